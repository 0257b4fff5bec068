"""The stand-in's records: a movie, a collection, a series and the day's rate of change,
as the catalogues (``catalog``, ``tv_catalog``), the whole universe (``universe``) and the
bodies (``bodies``, ``tv_bodies``) read them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DailyChange:
    """Shares of the catalogue's movies that change, appear and disappear each day."""

    changed: float = 0.03
    added: float = 0.01
    removed: float = 0.002
    # Of the changed movies, the share that also joins or leaves one of the catalogue's genres.
    regenred: float = 0.2


@dataclass(frozen=True, slots=True)
class FakeMovie:
    id: int
    title: str
    genre_ids: tuple[int, ...]
    popularity: float
    # "" when TMDB has no release date for it.
    release_date: str
    collection_id: int | None = None
    # Bumped each day the movie changes; its overview and votes follow it.
    revision: int = 0


@dataclass(frozen=True, slots=True)
class FakeCollection:
    id: int
    name: str
    movie_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FakeSeries:
    """A TV series (``ingest.standin.tv_catalog``): its own number space, apart from movies'."""

    id: int
    name: str
    genre_ids: tuple[int, ...]
    popularity: float
    # "" when TMDB has no first air date for it.
    first_air_date: str
    # The number of its IMDb id (``tt0000042`` is 42), or None when TMDB has none for it.
    imdb: int | None = None
    adult: bool = False
    revision: int = 0
