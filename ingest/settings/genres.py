"""TMDB's movie genres, and the names a user may call them by.

English names (case-insensitive), their slugs, the Portuguese aliases the seed project
used, and numeric ids all resolve to one ``Genre``; anything else is a usage error,
raised before a single request goes out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Genre:
    id: int
    name: str

    @property
    def slug(self) -> str:
        """The English slug used in file names: ``crime``, ``war``, ``science-fiction``."""
        return self.name.lower().replace(" ", "-")


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

_ALIASES = {"guerra": 10752, "crime": 80, "crimes": 80}
_BY_ID = {g.id: g for g in GENRES}
_BY_NAME = {g.name.lower(): g for g in GENRES} | {g.slug: g for g in GENRES}


def resolve_genre(value: str | int) -> Genre:
    """Resolve a user's genre: ``war``, ``War``, ``guerra``, ``10752``."""
    text = str(value).strip().lower()
    if text.isdigit() and int(text) in _BY_ID:
        return _BY_ID[int(text)]
    if text in _BY_NAME:
        return _BY_NAME[text]
    if _ALIASES.get(text, -1) in _BY_ID:
        return _BY_ID[_ALIASES[text]]
    known = ", ".join(g.slug for g in GENRES)
    raise ConfigError(
        f"unknown genre {value!r}: use an English name ({known}), "
        "guerra/crime, or a TMDB genre id such as 80 or 10752"
    )
