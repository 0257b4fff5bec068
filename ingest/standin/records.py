"""The stand-in's records: a movie, a collection and the day's rate of change, as the
catalogue (``catalog``), the whole universe (``universe``) and the bodies (``bodies``)
read them."""

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
