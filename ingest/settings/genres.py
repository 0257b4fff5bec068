"""TMDB's genres, movie and TV, and the names a user may call them by.

Movies and series have each their own list (``genres_of(media)``): Crime is 80 in both,
but there is no War for series, whose nearest genre is War & Politics (10768), and some
genres are TV's alone (Kids, Soap, ...). English names (case-insensitive), their slugs,
the aliases (the Portuguese ones the seed project used; ``war`` for War & Politics when
asking for series) and numeric ids all resolve to one ``Genre`` of the media asked for;
anything else is a usage error, raised before a single request goes out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from ingest.errors import ConfigError

# What TMDB catalogues, as the user names it (``--media movies|series``).
Media = Literal["movies", "series"]
MEDIA: tuple[Media, ...] = get_args(Media)


@dataclass(frozen=True, slots=True)
class Genre:
    id: int
    name: str

    @property
    def slug(self) -> str:
        """The English slug used in file names: ``crime``, ``war``, ``science-fiction``,
        ``war-politics`` (TMDB's TV names drop their "&")."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


# TMDB's /genre/movie/list (en-US). It has not changed in years; a numeric id that is not
# here is far more likely a typo than a new genre.
GENRES: tuple[Genre, ...] = (
    Genre(28, "Action"),
    Genre(12, "Adventure"),
    Genre(16, "Animation"),
    Genre(35, "Comedy"),
    Genre(80, "Crime"),
    Genre(99, "Documentary"),
    Genre(18, "Drama"),
    Genre(10751, "Family"),
    Genre(14, "Fantasy"),
    Genre(36, "History"),
    Genre(27, "Horror"),
    Genre(10402, "Music"),
    Genre(9648, "Mystery"),
    Genre(10749, "Romance"),
    Genre(878, "Science Fiction"),
    Genre(10770, "TV Movie"),
    Genre(53, "Thriller"),
    Genre(10752, "War"),
    Genre(37, "Western"),
)

# TMDB's /genre/tv/list (en-US).
TV_GENRES: tuple[Genre, ...] = (
    Genre(10759, "Action & Adventure"),
    Genre(16, "Animation"),
    Genre(35, "Comedy"),
    Genre(80, "Crime"),
    Genre(99, "Documentary"),
    Genre(18, "Drama"),
    Genre(10751, "Family"),
    Genre(10762, "Kids"),
    Genre(9648, "Mystery"),
    Genre(10763, "News"),
    Genre(10764, "Reality"),
    Genre(10765, "Sci-Fi & Fantasy"),
    Genre(10766, "Soap"),
    Genre(10767, "Talk"),
    Genre(10768, "War & Politics"),
    Genre(37, "Western"),
)

_ALIASES = {"guerra": 10752, "crime": 80, "crimes": 80}
# For series, "war" (and the seed project's "guerra") mean War & Politics: TV has no War.
_TV_ALIASES = {"war": 10768, "guerra": 10768, "crime": 80, "crimes": 80}
_BY_ID = {g.id: g for g in GENRES}
_BY_NAME = {g.name.lower(): g for g in GENRES} | {g.slug: g for g in GENRES}
_TV_BY_ID = {g.id: g for g in TV_GENRES}
_TV_BY_NAME = {g.name.lower(): g for g in TV_GENRES} | {g.slug: g for g in TV_GENRES}


def genres_of(media: Media) -> tuple[Genre, ...]:
    """TMDB's genres of ``media``: the 19 movie genres, or the 16 TV genres."""
    return TV_GENRES if media == "series" else GENRES


def resolve_genre(value: str | int, media: Media = "movies") -> Genre:
    """Resolve a user's genre for ``media``: ``war``, ``War``, ``guerra``, ``10752`` for
    movies; ``war`` (War & Politics), ``war-politics``, ``10768`` for series."""
    found = _lookup(value, media)
    if found is not None:
        return found
    if media == "series":
        known = ", ".join(g.slug for g in TV_GENRES)
        movie = _lookup(value, "movies")
        what = (
            f"{value!r} is the movie genre {movie.name}, not one of TMDB's TV genres"
            if movie
            else f"unknown TV genre {value!r}"
        )
        raise ConfigError(
            f"{what}: for series use one of {known} (war for war-politics), "
            "or a TV genre id such as 80 or 10768"
        )
    known = ", ".join(g.slug for g in GENRES)
    raise ConfigError(
        f"unknown genre {value!r}: use an English name ({known}), "
        "guerra/crime, or a TMDB genre id such as 80 or 10752"
    )


def _lookup(value: str | int, media: Media) -> Genre | None:
    by_id, by_name, aliases = (
        (_TV_BY_ID, _TV_BY_NAME, _TV_ALIASES) if media == "series" else (_BY_ID, _BY_NAME, _ALIASES)
    )
    text = str(value).strip().lower()
    if text.isdigit() and int(text) in by_id:
        return by_id[int(text)]
    if text in by_name:
        return by_name[text]
    return by_id.get(aliases.get(text, -1))
