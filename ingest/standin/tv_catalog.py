"""The stand-in's TV catalogue: seeded synthetic series, their clock and their export.

``TvCatalog.synthetic(sizes, seed=...)`` is day 0, made the movie catalogue's way
(``ingest.standin.catalog``) from a random stream of its own, so adding TV changes nothing
of the movies: ``sizes[genre_id]`` series that ``/discover/tv`` lists carry that TV genre
(exactly), each with other TV genres as TMDB's series have; a few adult series beside them
(``adult_share``), which discover leaves out (``include_adult=false``, TMDB's default) and
the daily export sets apart, as TMDB's does. ``at_day(n)`` moves it on n days with the
movies' rates (``DailyChange``): series changed (some moving between the catalogue's
genres), added, removed; ``changed_between`` is ``/tv/changes``.

TV ids are a number space of their own: ``movie_ids`` given, a share ``shared_ids`` of the
series take ids that are also movie ids, so a client that keys on the id alone mixes
them up. IMDb ids are numbered in the order the series are made (``tt0000001`` first),
as the sample ``data/series.csv`` numbers its series, so joining the two by IMDb id
finds rows; a share ``no_imdb_share`` has none, as on TMDB.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from ingest.standin import bodies, tv_bodies
from ingest.standin.constants import DAY0
from ingest.standin.records import DailyChange, FakeSeries
from ingest.standin.tv_bodies import TV_GENRE_NAMES

ACTION_ADVENTURE, ANIMATION, COMEDY, CRIME, DOCUMENTARY, DRAMA, FAMILY = 10759, 16, 35, 80, 99, 18, 10751
KIDS, MYSTERY, NEWS, REALITY, SCI_FI, SOAP, TALK, WAR_POLITICS, WESTERN = (
    10762, 9648, 10763, 10764, 10765, 10766, 10767, 10768, 37,
)  # fmt: skip
# The share of a main genre's series that also carry each other TV genre (rough
# estimates of TMDB's pattern, as ``genre_mix`` has for movies).
_RARE = 0.01
_BY_MAIN: Mapping[int, Mapping[int, float]] = {
    CRIME: {DRAMA: 0.55, MYSTERY: 0.3, ACTION_ADVENTURE: 0.2, COMEDY: 0.08, DOCUMENTARY: 0.06, SOAP: 0.03},
    WAR_POLITICS: {DRAMA: 0.6, ACTION_ADVENTURE: 0.3, DOCUMENTARY: 0.15, COMEDY: 0.05, NEWS: 0.03},
}
_DEFAULT: Mapping[int, float] = {
    DRAMA: 0.35,
    COMEDY: 0.15,
    ACTION_ADVENTURE: 0.1,
    MYSTERY: 0.05,
    FAMILY: 0.05,
}
# What ``python -m ingest.standin`` serves unless told: a few hundred series of each.
DEFAULT_TV_SIZES: Mapping[int, int] = {CRIME: 300, WAR_POLITICS: 150}


@dataclass(frozen=True, slots=True)
class TvCatalog:
    """The series the stand-in serves on one day of its calendar."""

    series: Mapping[int, FakeSeries] = field(default_factory=dict)
    seed: int = 1
    day: int = 0
    # The TV genres the catalogue was made for: what changed series join or leave.
    genres: tuple[int, ...] = ()
    daily: DailyChange = DailyChange()
    # Ids changed, added or removed, by the day it happened (1..day).
    changed_on: Mapping[int, frozenset[int]] = field(default_factory=dict)
    # The last IMDb number and the highest id given: series added later take the next
    # ones (never a removed series' id).
    last_imdb: int = 0
    last_id: int = 1

    @classmethod
    def synthetic(
        cls,
        sizes: Mapping[int, int],
        *,
        seed: int = 1,
        movie_ids: Collection[int] = (),
        shared_ids: float = 0.1,
        adult_share: float = 0.02,
        no_imdb_share: float = 0.15,
        no_date_share: float = 0.01,
        overlap: float = 0.1,
        daily: DailyChange = DailyChange(),
    ) -> TvCatalog:
        """Day 0: ``sizes[tv_genre_id]`` non-adult series in each genre (exactly)."""
        unknown = sorted(set(sizes) - set(TV_GENRE_NAMES))
        if unknown:
            raise ValueError(f"not TMDB TV genres: {unknown} (TV genres: {sorted(TV_GENRE_NAMES)})")
        # A string seed is hashed with SHA-512: the same stream on every run and machine,
        # and not the movie catalogue's.
        rng = random.Random(f"standin/{seed}/tv")
        reuse = sorted(movie_ids)
        taken: set[int] = set()
        genre_lists: dict[int, list[int]] = {}
        made: list[int] = []
        next_id = 1
        for genre_id, size in sizes.items():
            others = [i for i in made if genre_id not in genre_lists[i]]
            shared = rng.sample(others, min(len(others), int(size * overlap)))
            for series_id in shared:
                genre_lists[series_id].append(genre_id)
            for _ in range(size - len(shared)):
                next_id += rng.randint(1, 30)
                series_id = next_id
                if reuse and rng.random() < shared_ids:
                    # An id that is also a movie's: the two number spaces meet here.
                    series_id = rng.choice(reuse)
                while series_id in taken:
                    next_id += 1
                    series_id = next_id
                taken.add(series_id)
                genre_lists[series_id] = [genre_id, *_extra_genres(rng, genre_id, sizes)]
                made.append(series_id)
        adults = []
        next_id = max([next_id, *taken])
        for _ in range(round(len(made) * adult_share)):
            next_id += rng.randint(1, 30)
            genre_lists[next_id] = [rng.choice(tuple(sizes) or (DRAMA,))]
            adults.append(next_id)
        _every_genre_served(genre_lists, made, rng, sizes)
        series: dict[int, FakeSeries] = {}
        imdb = 0
        for series_id in [*made, *adults]:
            has_imdb = rng.random() >= no_imdb_share
            imdb += has_imdb
            series[series_id] = FakeSeries(
                series_id,
                bodies.title(rng),
                tuple(genre_lists[series_id]),
                bodies.popularity(rng),
                "" if rng.random() < no_date_share else bodies.release_date(rng),
                imdb if has_imdb else None,
                adult=series_id in adults,
            )
        return cls(series, seed=seed, genres=tuple(sizes), daily=daily, last_imdb=imdb, last_id=next_id)

    # The clock ---------------------------------------------------------------------------

    @property
    def date(self) -> dt.date:
        return DAY0 + dt.timedelta(days=self.day)

    def at_day(self, day: int) -> TvCatalog:
        """This catalogue on a later day (or itself, on its own day)."""
        if day < self.day:
            raise ValueError(f"the TV catalogue is at day {self.day}; day {day} is behind it")
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

    def _next_day(self) -> TvCatalog:
        day = self.day + 1
        rng = random.Random(f"standin/{self.seed}/tv/day/{day}")
        ids = sorted(self.series)
        removed = set(rng.sample(ids, min(len(ids), round(len(ids) * self.daily.removed))))
        staying = [i for i in ids if i not in removed]
        changed = rng.sample(staying, min(len(staying), round(len(ids) * self.daily.changed)))
        series = {i: s for i, s in self.series.items() if i not in removed}
        for series_id in changed:
            series[series_id] = self._changed(series[series_id], rng)
        next_id = self.last_id
        imdb = self.last_imdb
        added = []
        for _ in range(round(len(ids) * self.daily.added)):
            next_id += rng.randint(1, 30)
            imdb += 1
            genres = (rng.choice(self.genres),) if self.genres else ()
            aired = (self.date + dt.timedelta(days=1)).isoformat()
            series[next_id] = FakeSeries(
                next_id, bodies.title(rng), genres, bodies.popularity(rng), aired, imdb
            )
            added.append(next_id)
        return replace(
            self,
            series=series,
            day=day,
            changed_on={**self.changed_on, day: frozenset([*changed, *added, *removed])},
            last_imdb=imdb,
            last_id=next_id,
        )

    def _changed(self, series: FakeSeries, rng: random.Random) -> FakeSeries:
        genres = list(series.genre_ids)
        if self.genres and not series.adult and rng.random() < self.daily.regenred:
            genre = rng.choice(self.genres)
            if genre not in genres:
                genres.append(genre)
            elif len(genres) > 1:
                genres.remove(genre)
        return replace(
            series,
            genre_ids=tuple(genres),
            popularity=round(series.popularity * rng.uniform(0.8, 1.25) + 0.001, 3),
            revision=series.revision + 1,
        )

    # Lookups -----------------------------------------------------------------------------

    def genre_ids(self, genre_id: int) -> set[int]:
        """The series ``/discover/tv`` lists for this genre with
        ``include_null_first_air_dates=true`` (the adult ones left out): what a walk of the
        genre must find."""
        return {s.id for s in self.series.values() if genre_id in s.genre_ids and not s.adult}

    @property
    def adult_ids(self) -> set[int]:
        return {s.id for s in self.series.values() if s.adult}

    def discover(self, q: Mapping[str, str], *, undated_first_desc: bool = True) -> list[int]:
        """The ids ``/discover/tv`` lists for query ``q``, in order (all pages).

        As on TMDB, series without a first air date are listed only when
        ``include_null_first_air_dates=true`` (and never by a ``first_air_date`` filter);
        sorted by date, they come last ascending and first descending (PostgreSQL's
        NULLS LAST/FIRST, or last both ways when ``undated_first_desc`` is off)."""
        genres = q.get("with_genres", "")
        gte, lte = q.get("first_air_date.gte"), q.get("first_air_date.lte")
        if "|" in genres:
            wanted, mode = {int(g) for g in genres.split("|") if g}, any
        else:
            wanted, mode = {int(g) for g in genres.split(",") if g}, all
        adult = q.get("include_adult") == "true"
        undated = q.get("include_null_first_air_dates") == "true" and gte is None and lte is None
        found = [
            s
            for s in self.series.values()
            if (adult or not s.adult)
            and (not wanted or mode(g in s.genre_ids for g in wanted))
            and (s.first_air_date or undated)
            and (gte is None or s.first_air_date >= gte)
            and (lte is None or s.first_air_date <= lte)
        ]
        return [s.id for s in _sorted(found, q.get("sort_by", "popularity.desc"), undated_first_desc)]

    def summary(self, series_id: int) -> dict[str, Any]:
        return tv_bodies.summary(self.seed, self.series[series_id])

    def detail(self, series_id: int, append: Collection[str] = ()) -> dict[str, Any]:
        return tv_bodies.detail(self.seed, self.series[series_id], append)

    def sub_resource(self, series_id: int, name: str) -> dict[str, Any]:
        """``/tv/{id}/{name}``: the sub-resource with the series' id first, as TMDB has it."""
        return {"id": series_id, **tv_bodies.SUB_RESOURCES[name](self.seed, self.series[series_id])}

    def export_lines(self, *, adult: bool) -> Iterator[bytes]:
        """The day's ``tv_series_ids`` export (``adult=False``) or ``adult_tv_series_ids``:
        TMDB's TV export has no ``adult`` field; the adult series are in their own file."""
        for series_id in sorted(self.series):
            s = self.series[series_id]
            if s.adult == adult:
                yield orjson.dumps({"id": s.id, "original_name": s.name, "popularity": s.popularity})


def _sorted(found: list[FakeSeries], sort_by: str, undated_first_desc: bool) -> list[FakeSeries]:
    field_, _, order = sort_by.partition(".")
    if field_ == "first_air_date":
        dated = sorted((s for s in found if s.first_air_date), key=lambda s: (s.first_air_date, s.id))
        undated = sorted((s for s in found if not s.first_air_date), key=lambda s: s.id)
        if order != "desc":
            return dated + undated
        return undated + dated[::-1] if undated_first_desc else dated[::-1] + undated
    if field_ in ("name", "original_name"):
        return sorted(found, key=lambda s: (s.name, s.id), reverse=order == "desc")
    return sorted(found, key=lambda s: (s.popularity, -s.id), reverse=order != "asc")


def _extra_genres(rng: random.Random, main: int, exact: Collection[int]) -> list[int]:
    """Other TV genres for a series made for ``main``; never one of ``exact``, whose sizes
    the catalogue keeps as asked. One draw per genre whatever is skipped."""
    shares = _BY_MAIN.get(main, _DEFAULT)
    drawn = []
    for genre in TV_GENRE_NAMES:
        roll = rng.random()
        if genre != main and genre not in exact and roll < shares.get(genre, _RARE):
            drawn.append(genre)
    return drawn


def _every_genre_served(
    genre_lists: dict[int, list[int]], made: list[int], rng: random.Random, exact: Collection[int]
) -> None:
    """Give each TV genre that no series drew to one (non-adult) series."""
    seen = {g for i in made for g in genre_lists[i]}
    for genre in TV_GENRE_NAMES:
        if made and genre not in seen and genre not in exact:
            genre_lists[rng.choice(made)].append(genre)
