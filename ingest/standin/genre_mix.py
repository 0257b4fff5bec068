"""Which other genres a synthetic movie carries besides the one it was made for.

TMDB lists 19 movie genres and a movie carries two or three of them on average, in
patterns that depend on its main genre: a Crime film is often also a Drama or a Thriller,
sometimes a Comedy, rarely an Animation; a War film is mostly a Drama, often History or
Action. The shares below are rough estimates of that pattern (not measured from TMDB
here: a stand-in needs the shape, not the decimals); every genre has a share, so that a
catalogue of a few hundred movies serves all 19 (``--genre comedy`` finds its crime
comedies).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping

from ingest.standin.bodies import GENRE_NAMES

ACTION, ADVENTURE, ANIMATION, COMEDY, CRIME, DOCUMENTARY, DRAMA = 28, 12, 16, 35, 80, 99, 18
FAMILY, FANTASY, HISTORY, HORROR, MUSIC, MYSTERY, ROMANCE = 10751, 14, 36, 27, 10402, 9648, 10749
SCIENCE_FICTION, TV_MOVIE, THRILLER, WAR, WESTERN = 878, 10770, 53, 10752, 37

# The share of a main genre's movies that also carry each other genre.
_RARE = 0.01
_BY_MAIN: Mapping[int, Mapping[int, float]] = {
    CRIME: {
        DRAMA: 0.45, THRILLER: 0.38, ACTION: 0.24, COMEDY: 0.16, MYSTERY: 0.12,
        ROMANCE: 0.04, HORROR: 0.03, TV_MOVIE: 0.03, ADVENTURE: 0.03, DOCUMENTARY: 0.02,
        HISTORY: 0.02, SCIENCE_FICTION: 0.015, WESTERN: 0.01, FAMILY: 0.01, MUSIC: 0.01,
        FANTASY: 0.01, ANIMATION: 0.01, WAR: 0.01,
    },
    WAR: {
        DRAMA: 0.62, HISTORY: 0.34, ACTION: 0.28, ADVENTURE: 0.11, ROMANCE: 0.08,
        DOCUMENTARY: 0.08, THRILLER: 0.06, COMEDY: 0.06, TV_MOVIE: 0.03, ANIMATION: 0.025,
        WESTERN: 0.02, FAMILY: 0.02, SCIENCE_FICTION: 0.02, MYSTERY: 0.02, HORROR: 0.015,
        CRIME: 0.02, MUSIC: 0.01, FANTASY: 0.01,
    },
}  # fmt: skip
# Any other main genre: the mix of TMDB's catalogue as a whole.
_DEFAULT: Mapping[int, float] = {
    DRAMA: 0.35, COMEDY: 0.15, THRILLER: 0.12, ACTION: 0.12, ROMANCE: 0.10, ADVENTURE: 0.07,
    CRIME: 0.06, FAMILY: 0.05, FANTASY: 0.04, MYSTERY: 0.04, HORROR: 0.04, SCIENCE_FICTION: 0.04,
    HISTORY: 0.03, ANIMATION: 0.03, MUSIC: 0.03, TV_MOVIE: 0.03, DOCUMENTARY: 0.02, WAR: 0.02,
    WESTERN: 0.01,
}  # fmt: skip


def extra_genres(rng: random.Random, main: int, exact: Collection[int]) -> list[int]:
    """Other genres for a movie made for ``main``, in a stable order. Genres in ``exact``
    are never added: the catalogue holds exactly as many movies of them as it was asked."""
    shares = _BY_MAIN.get(main, _DEFAULT)
    drawn = []
    for genre in GENRE_NAMES:
        # One draw per genre whatever is skipped, so the stream does not depend on ``exact``.
        roll = rng.random()
        if genre != main and genre not in exact and roll < shares.get(genre, _RARE):
            drawn.append(genre)
    return drawn
