"""The stand-in's whole catalogue: up to a million or so movies, none of them held in memory.

``Universe(size, seed=...)`` is a pure function of the seed, a movie's id and the day of
the stand-in's calendar: whether the id exists that day, whether it is adult, its
popularity, its title, its revision (how many times it changed), its collection. Nothing
is stored per movie, so serving 1.1M movies costs what serving 300 does; the daily ID
exports are generated line by line from the same functions (``ingest.standin.exports``),
and so is the changes feed, so the two agree day by day:

- day 0 holds ``size`` movies; each later day removes a share ``daily.removed`` of the
  movies alive the day before, changes a share ``daily.changed`` of those staying, and
  adds ``round(size * daily.added)`` new ones (ids above every older one);
- the changes feed for a day lists exactly the ids changed, added or removed that day;
- a movie's details (``/movie/{id}``) answer 404 on a day it does not exist.

Collections group day-0 movies four by four (a share ``collection_share`` of the groups).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ingest.standin import bodies
from ingest.standin.records import DailyChange, FakeCollection, FakeMovie

_MASK = (1 << 64) - 1
# Salts: each property of a movie draws from its own stream.
_ID, _ADULT, _REMOVED, _CHANGED, _POPULARITY, _TITLE, _COLLECTION, _DATE, _GENRE = range(9)
_GROUP = 4
_COLLECTION_BASE = 10_000_000
_TITLE_WORDS = (
    "Último", "Guerra", "Noite", "Cidade", "Coração", "Sombra", "Éclair", "Frères", "Mañana",
    "Café", "Straße", "Sangue", "Ouro", "Fronteira", "Silence", "Empire", "Heist", "Soldier",
    "River", "Winter", "Code", "Harbour", "Echo", "Lantern",
)  # fmt: skip
_GENRES = tuple(bodies.GENRE_NAMES)


def mix(*parts: int) -> int:
    """A 64-bit hash of whole numbers (splitmix64's finaliser, chained): fast, stable
    across processes and machines, unlike ``hash``."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = ((x ^ (p & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        x ^= x >> 31
    x = (x * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 29)


def _unit(*parts: int) -> float:
    return (mix(*parts) >> 11) / 9007199254740992.0


@dataclass(frozen=True, slots=True)
class Universe:
    size: int
    seed: int = 1
    adult_share: float = 0.05
    daily: DailyChange = field(default_factory=DailyChange)
    collection_share: float = 0.3

    # Ids ---------------------------------------------------------------------------------

    def original(self, k: int) -> int:
        """The id of day-0 movie ``k`` (0-based): increasing, with gaps, as TMDB's are."""
        return 2 * k + 2 + (mix(self.seed, _ID, k) & 1)

    @property
    def added_per_day(self) -> int:
        return round(self.size * self.daily.added)

    @property
    def _first_added(self) -> int:
        return 2 * self.size + 10

    def added(self, day: int) -> range:
        """The ids added on ``day`` (>= 1)."""
        per_day = self.added_per_day
        start = self._first_added + 2 * (day - 1) * per_day
        return range(start, start + 2 * per_day, 2)

    def born(self, movie_id: int) -> int | None:
        """The day ``movie_id`` appeared, or None when no movie ever had it."""
        if movie_id < self._first_added:
            k = (movie_id - 2) // 2
            return 0 if 0 <= k < self.size and self.original(k) == movie_id else None
        offset = movie_id - self._first_added
        if offset % 2 or not self.added_per_day:
            return None
        return 1 + (offset // 2) // self.added_per_day

    def candidates(self, day: int) -> Iterator[int]:
        """Every id born by ``day``, in id order (alive or not)."""
        for k in range(self.size):
            yield self.original(k)
        for d in range(1, day + 1):
            yield from self.added(d)

    # A movie's life ----------------------------------------------------------------------

    def removed_on(self, movie_id: int, day: int) -> bool:
        return _unit(self.seed, _REMOVED, movie_id, day) < self.daily.removed

    def changed_on(self, movie_id: int, day: int) -> bool:
        return _unit(self.seed, _CHANGED, movie_id, day) < self.daily.changed

    def alive(self, movie_id: int, day: int) -> bool:
        born = self.born(movie_id)
        if born is None or born > day:
            return False
        return not any(self.removed_on(movie_id, d) for d in range(born + 1, day + 1))

    def revision(self, movie_id: int, day: int) -> int:
        born = self.born(movie_id) or 0
        return sum(self.changed_on(movie_id, d) for d in range(born + 1, day + 1))

    def changed(self, day: int) -> list[int]:
        """What the changes feed lists for ``day``: changed, added or removed that day."""
        return _changed(self, day)

    # What a movie looks like ---------------------------------------------------------------

    def adult(self, movie_id: int) -> bool:
        return _unit(self.seed, _ADULT, movie_id) < self.adult_share

    def popularity(self, movie_id: int) -> float:
        u = _unit(self.seed, _POPULARITY, movie_id)
        # Long tail, and a crowd of obscure films tied at the same low values, as on TMDB.
        if u < 0.25:
            return round(0.6 + int(u * 20) * 0.1, 3)
        return round(0.6 + 2 * (1 / (1.0001 - u) - 1), 3)

    def title(self, movie_id: int) -> str:
        h = mix(self.seed, _TITLE, movie_id)
        words = 1 + h % 3
        return " ".join(_TITLE_WORDS[(h >> (8 * (i + 1))) % len(_TITLE_WORDS)] for i in range(words))

    def collection_of(self, movie_id: int) -> int | None:
        if self.born(movie_id) != 0:
            return None
        group = ((movie_id - 2) // 2) // _GROUP
        return _COLLECTION_BASE + group if self._has_collection(group) else None

    def _has_collection(self, group: int) -> bool:
        return _unit(self.seed, _COLLECTION, group) < self.collection_share

    def collections(self) -> Iterator[int]:
        for group in range(math.ceil(self.size / _GROUP)):
            if self._has_collection(group):
                yield _COLLECTION_BASE + group

    def collection_name(self, collection_id: int) -> str:
        first = self.original((collection_id - _COLLECTION_BASE) * _GROUP)
        return f"{self.title(first)} Collection"

    def movie(self, movie_id: int, day: int) -> FakeMovie:
        h = mix(self.seed, _GENRE, movie_id)
        genres = tuple(dict.fromkeys(_GENRES[(h >> s) % len(_GENRES)] for s in (0, 8)[: 1 + h % 2]))
        d = mix(self.seed, _DATE, movie_id)
        released = f"{1920 + d % 106:04d}-{1 + (d >> 8) % 12:02d}-{1 + (d >> 16) % 28:02d}"
        return FakeMovie(
            movie_id,
            self.title(movie_id),
            genres,
            self.popularity(movie_id),
            released,
            self.collection_of(movie_id),
            self.revision(movie_id, day),
        )

    def _collection(self, collection_id: int, day: int) -> FakeCollection:
        first = (collection_id - _COLLECTION_BASE) * _GROUP
        members = (self.original(k) for k in range(first, min(first + _GROUP, self.size)))
        alive = tuple(i for i in members if self.alive(i, day))
        return FakeCollection(collection_id, self.collection_name(collection_id), alive)

    def detail(self, movie_id: int, day: int, append: Collection[str]) -> dict[str, Any]:
        movie = self.movie(movie_id, day)
        coll = None if movie.collection_id is None else self._collection(movie.collection_id, day)
        return bodies.detail(self.seed, movie, coll, append) | {"adult": self.adult(movie_id)}

    def collection(self, collection_id: int, day: int) -> dict[str, Any] | None:
        group = collection_id - _COLLECTION_BASE
        if not 0 <= group < math.ceil(self.size / _GROUP) or not self._has_collection(group):
            return None
        coll = self._collection(collection_id, day)
        return bodies.collection(self.seed, coll, [self.movie(i, day) for i in coll.movie_ids])


@lru_cache(maxsize=8)
def _changed(universe: Universe, day: int) -> list[int]:
    if day < 1:
        return []
    found = list(universe.added(day))
    for movie_id in universe.candidates(day - 1):
        if universe.alive(movie_id, day - 1) and (
            universe.removed_on(movie_id, day) or universe.changed_on(movie_id, day)
        ):
            found.append(movie_id)
    return sorted(found)
