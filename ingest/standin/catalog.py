"""The stand-in's catalogue: seeded synthetic movies and collections, and its clock.

``Catalog.synthetic(sizes, seed=...)`` is day 0. ``catalog.at_day(n)`` is the same
catalogue n days later: each day a share of the movies change (a new ``revision``, so
their bodies differ; some also join or leave a genre), some are added and some removed
(404 from then on), all drawn from the seed and the day, so any process that asks for
day n of the same seed gets the same catalogue. ``changed_between`` is what TMDB's
changes feed lists for a range of days. Day n is the date ``DAY0 + n``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ingest.standin import bodies
from ingest.standin.bodies import GENRE_NAMES
from ingest.standin.constants import DAY0
from ingest.standin.genre_mix import extra_genres
from ingest.standin.records import DailyChange, FakeCollection, FakeMovie

# How many films a TMDB collection holds: mostly two or three, a few long franchises.
_COLLECTION_SIZES = ((2, 0.45), (3, 0.27), (4, 0.11), (5, 0.06), (6, 0.04), (8, 0.04), (12, 0.03))


@dataclass(frozen=True, slots=True)
class Catalog:
    """The movies and collections the stand-in serves on one day of its calendar."""

    movies: Mapping[int, FakeMovie]
    collections: Mapping[int, FakeCollection]
    seed: int = 1
    day: int = 0
    # The genres the catalogue was made for: what changed movies join or leave.
    genres: tuple[int, ...] = ()
    daily: DailyChange = DailyChange()
    # Ids changed (details or genres), added or removed, by the day it happened (1..day).
    changed_on: Mapping[int, frozenset[int]] = field(default_factory=dict)
    # Each movie's discover entry, made once (a page of them took 1.5 ms to draw, and 20
    # pages at once kept the server from counting the requests arriving meanwhile).
    _summaries: dict[FakeMovie, dict[str, Any]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @classmethod
    def synthetic(
        cls,
        sizes: Mapping[int, int],
        *,
        seed: int = 1,
        overlap: float = 0.1,
        no_date_share: float = 0.01,
        collection_share: float = 0.3,
        daily: DailyChange = DailyChange(),
    ) -> Catalog:
        """Day 0: ``sizes[genre_id]`` movies carry that genre (exactly); a share ``overlap``
        of each later genre's movies are taken from the genres made before it. Each movie
        also carries other genres, as TMDB's do (``genre_mix``), so that every one of the 19
        genres has movies; a share ``collection_share`` of each genre's own movies form
        collections of that genre, as TMDB's franchises mostly keep to one genre."""
        rng = random.Random(seed)
        genre_lists: dict[int, list[int]] = {}
        made_for: dict[int, list[int]] = {}
        drawn: dict[int, tuple[str, float, str]] = {}
        next_id = 11
        for genre_id, size in sizes.items():
            others = [i for i in genre_lists if genre_id not in genre_lists[i]]
            shared = rng.sample(others, min(len(others), int(size * overlap)))
            for movie_id in shared:
                genre_lists[movie_id].append(genre_id)
            made_for[genre_id] = []
            for _ in range(size - len(shared)):
                next_id += rng.randint(1, 40)
                genre_lists[next_id] = [genre_id, *extra_genres(rng, genre_id, sizes)]
                made_for[genre_id].append(next_id)
                drawn[next_id] = (
                    bodies.title(rng),
                    bodies.popularity(rng),
                    "" if rng.random() < no_date_share else bodies.release_date(rng),
                )
        _every_genre_served(genre_lists, rng, sizes)
        collections: dict[int, FakeCollection] = {}
        next_cid = 8_000
        names: set[str] = set()
        for members in _franchises(made_for, rng, collection_share):
            next_cid += rng.randint(1, 30)
            name = _franchise_name(drawn[members[0]][0], names)
            collections[next_cid] = FakeCollection(next_cid, name, tuple(members))
        member_of = {i: cid for cid, coll in collections.items() for i in coll.movie_ids}
        movies = {
            i: FakeMovie(i, title, tuple(genre_lists[i]), popularity, released, member_of.get(i))
            for i, (title, popularity, released) in drawn.items()
        }
        return cls(movies, collections, seed=seed, genres=tuple(sizes), daily=daily)

    # The clock ---------------------------------------------------------------------------

    @property
    def date(self) -> dt.date:
        return DAY0 + dt.timedelta(days=self.day)

    def at_day(self, day: int) -> Catalog:
        """This catalogue on a later day (or itself, on its own day)."""
        if day < self.day:
            raise ValueError(f"the catalogue is at day {self.day}; day {day} is behind it")
        catalog = self
        while catalog.day < day:
            catalog = catalog._next_day()
        return catalog

    def changed_between(self, first_day: int, last_day: int) -> list[int]:
        """Ids changed, added or removed on days ``first_day`` to ``last_day`` (inclusive)."""
        found: set[int] = set()
        for day in range(max(1, first_day), min(self.day, last_day) + 1):
            found |= self.changed_on.get(day, frozenset())
        return sorted(found)

    def _next_day(self) -> Catalog:
        day = self.day + 1
        # A string seed is hashed with SHA-512: the same on every run and every machine.
        rng = random.Random(f"standin/{self.seed}/day/{day}")
        ids = sorted(self.movies)
        removed = set(rng.sample(ids, min(len(ids), round(len(ids) * self.daily.removed))))
        staying = [i for i in ids if i not in removed]
        changed = rng.sample(staying, min(len(staying), round(len(ids) * self.daily.changed)))
        movies = {i: m for i, m in self.movies.items() if i not in removed}
        for movie_id in changed:
            movies[movie_id] = self._changed(movies[movie_id], rng)
        next_id = max(ids, default=10)
        added = []
        for _ in range(round(len(ids) * self.daily.added)):
            next_id += rng.randint(1, 40)
            genres = (rng.choice(self.genres),) if self.genres else ()
            released = (self.date + dt.timedelta(days=1)).isoformat()
            movies[next_id] = FakeMovie(next_id, bodies.title(rng), genres, bodies.popularity(rng), released)
            added.append(next_id)
        return replace(
            self,
            movies=movies,
            collections=_without(self.collections, removed),
            day=day,
            changed_on={**self.changed_on, day: frozenset([*changed, *added, *removed])},
        )

    def _changed(self, movie: FakeMovie, rng: random.Random) -> FakeMovie:
        genres = list(movie.genre_ids)
        if self.genres and rng.random() < self.daily.regenred:
            genre = rng.choice(self.genres)
            if genre not in genres:
                genres.append(genre)
            elif len(genres) > 1:
                genres.remove(genre)
        return replace(
            movie,
            genre_ids=tuple(genres),
            popularity=round(movie.popularity * rng.uniform(0.8, 1.25) + 0.001, 3),
            revision=movie.revision + 1,
        )

    # Lookups and wire shapes -------------------------------------------------------------

    def genre_ids(self, genre_id: int) -> set[int]:
        return {m.id for m in self.movies.values() if genre_id in m.genre_ids}

    def collection_ids(self, movie_ids: Iterable[int]) -> set[int]:
        return {cid for i in movie_ids if (cid := self.movies[i].collection_id) is not None}

    def discover(self, q: Mapping[str, str], *, undated_first_desc: bool = True) -> list[int]:
        """The ids ``/discover/movie`` lists for query ``q``, in order (all pages).

        Null release dates follow PostgreSQL's ordering (last when ascending, first when
        descending, unless ``undated_first_desc`` is off) and are left out by any
        ``primary_release_date`` filter, as on TMDB."""
        genres = q.get("with_genres", "")
        gte, lte = q.get("primary_release_date.gte"), q.get("primary_release_date.lte")
        if "|" in genres:
            wanted, mode = {int(g) for g in genres.split("|") if g}, any
        else:
            wanted, mode = {int(g) for g in genres.split(",") if g}, all
        found = [
            m
            for m in self.movies.values()
            if (not wanted or mode(g in m.genre_ids for g in wanted))
            and (gte is None or (m.release_date and m.release_date >= gte))
            and (lte is None or (m.release_date and m.release_date <= lte))
        ]
        field_, _, order = q.get("sort_by", "popularity.desc").partition(".")
        if field_ == "primary_release_date":
            dated = sorted((m for m in found if m.release_date), key=lambda m: (m.release_date, m.id))
            undated = sorted((m for m in found if not m.release_date), key=lambda m: m.id)
            if order != "desc":
                found = dated + undated
            elif undated_first_desc:
                found = undated + dated[::-1]
            else:
                found = dated[::-1] + undated
        else:
            found.sort(key=lambda m: (m.popularity, -m.id), reverse=order != "asc")
        return [m.id for m in found]

    def warm(self, most: int = 100_000) -> None:
        """Draw every movie's discover entry now, before serving (a catalogue of up to
        ``most`` movies: a few seconds at most)."""
        if len(self.movies) <= most:
            for movie in self.movies.values():
                self.summary(movie)

    def summary(self, movie: FakeMovie) -> dict[str, Any]:
        made = self._summaries.get(movie)
        if made is None:
            made = self._summaries[movie] = bodies.summary(self.seed, movie)
        return dict(made)

    def detail(self, movie_id: int, append: Collection[str] = ()) -> dict[str, Any]:
        movie = self.movies[movie_id]
        coll = self.collections.get(movie.collection_id) if movie.collection_id else None
        return bodies.detail(self.seed, movie, coll, append)

    def keywords(self, movie_id: int) -> dict[str, Any]:
        """``/movie/{id}/keywords``: what the seed project fetched with a second call."""
        return {
            "id": movie_id,
            "keywords": bodies.keywords(self.seed, movie_id, self.movies[movie_id].genre_ids),
        }

    def collection(self, collection_id: int) -> dict[str, Any]:
        coll = self.collections[collection_id]
        return bodies.collection(self.seed, coll, [self.movies[i] for i in coll.movie_ids])


def _every_genre_served(
    genre_lists: dict[int, list[int]], rng: random.Random, exact: Collection[int]
) -> None:
    """Give each of TMDB's genres that no movie drew (small catalogues) to one movie."""
    seen = {g for genres in genre_lists.values() for g in genres}
    ids = sorted(genre_lists)
    for genre in GENRE_NAMES:
        if ids and genre not in seen and genre not in exact:
            genre_lists[rng.choice(ids)].append(genre)


def _franchise_name(title: str, taken: set[str]) -> str:
    """A name after the franchise's first film, as TMDB's are, and not one already taken."""
    for form in ("{} Collection", "The {} Collection", "{} Saga", "{} Chronicles"):
        name = form.format(title)
        if name not in taken:
            break
    else:
        name = f"{title} Collection ({len(taken)})"
    taken.add(name)
    return name


def _franchises(made_for: Mapping[int, list[int]], rng: random.Random, share: float) -> Iterable[list[int]]:
    """Collections drawn among each genre's own movies, sized as TMDB's are."""
    sizes, weights = zip(*_COLLECTION_SIZES, strict=True)
    for ids in made_for.values():
        pool = [i for i in ids if rng.random() < share]
        rng.shuffle(pool)
        while len(pool) >= 2:
            size = min(len(pool), rng.choices(sizes, weights)[0])
            members, pool = pool[:size], pool[size:]
            yield members


def _without(collections: Mapping[int, FakeCollection], removed: set[int]) -> dict[int, FakeCollection]:
    """The collections with the removed movies taken out; one left empty goes too."""
    kept: dict[int, FakeCollection] = {}
    for cid, coll in collections.items():
        members = tuple(i for i in coll.movie_ids if i not in removed)
        if members:
            kept[cid] = coll if len(members) == len(coll.movie_ids) else replace(coll, movie_ids=members)
    return kept
