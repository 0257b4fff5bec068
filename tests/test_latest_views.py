"""The ``*_latest`` views of docs/queries.md after several days: a lake the pipeline wrote
over five days of the stand-in's calendar (full snapshots, incremental days with changed,
new and removed movies, movies that joined or left a genre, one that TMDB stopped serving),
for two genres and the whole catalogue, read back by DuckDB through the views
``python -m ingest.answers`` runs. Each view is held against the stand-in's own state on
the last day: what a full snapshot taken that day would hold.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ingest.answers import queries
from ingest.lake import Lake
from ingest.reports.counts import TmdbStats
from ingest.standin import DAY0, Catalog, Standin, Universe
from ingest.standin.records import DailyChange
from ingest.state import open_lake
from ingest.stop import Stop
from ingest.tmdb.stage import run_tmdb
from ingest.tmdb.stage import run_tmdb as run_catalogue
from tests.tmdb_fixtures import FAST, settings_for

WAR, CRIME = 10752, 80
# Much churn on a small catalogue, so that each day changes, adds, removes and re-genres.
CHURN = DailyChange(changed=0.1, added=0.03, removed=0.02, regenred=0.3)
LAST = 4
# How each day of the genres is refreshed: day 2 is a new full snapshot.
GENRE_REFRESH = {0: "full", 1: "incremental", 2: "full", 3: "incremental", 4: "incremental"}


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


@dataclass(frozen=True)
class Built:
    root: Path
    genres: Standin
    # Day 0 of the genres' catalogue: any day of it is ``origin.at_day(n)``.
    origin: Catalog
    universe: Universe
    # The movie TMDB stopped serving (404) from day 3 on.
    gone: int


async def _genre_day(lake: Lake, standin: Standin, n: int) -> None:
    settings = settings_for(standin.url, lake.url, genres=("war", "crime"), collections=True, date=day(n))
    settings = replace(settings, job=replace(settings.job, refresh=GENRE_REFRESH[n]))
    assert await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)


async def _catalogue_day(lake: Lake, url: str, n: int) -> None:
    settings = settings_for(url, lake.url, genres=(), movies=False, date=day(n))
    settings = replace(
        settings,
        tmdb=replace(settings.tmdb, exports_url=url + "/p/exports"),
        job=replace(settings.job, catalogue=True, collections=True),
    )
    assert await run_catalogue(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("lake")
    catalog = Catalog.synthetic({WAR: 150, CRIME: 120}, seed=5, daily=CHURN)
    universe = Universe(250, seed=7, adult_share=0.1, daily=CHURN)
    # The genres and the catalogue are two stand-ins: a stand-in with a universe serves
    # every movie from it.
    genres = Standin(catalog)
    whole = Standin(Catalog.synthetic({}, seed=1), universe=universe)
    gone = 0

    async def fill() -> None:
        nonlocal gone
        async with genres.serve(), whole.serve() as whole_url, open_lake(str(root)) as lake:
            for n in range(LAST + 1):
                genres.day = whole.day = n
                if n == 3:
                    # One War movie that changed today answers 404 from now on.
                    gone = min(set(genres.catalog.changed_between(3, 3)) & genres.catalog.genre_ids(WAR))
                    genres.gone_ids = {gone}
                await _genre_day(lake, genres, n)
                await _catalogue_day(lake, whole_url, n)

    asyncio.run(fill())
    return Built(root, genres, catalog, universe, gone)


def _latest(
    con: duckdb.DuckDBPyConnection, view: str, dataset: str, *fields: str
) -> dict[int, tuple[Any, ...]]:
    rows = con.execute(f"SELECT id, {', '.join(fields)} FROM {view} WHERE dataset = ?", [dataset]).fetchall()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), f"{view} holds an id of {dataset} twice"
    return {r[0]: tuple(r[1:]) for r in rows}


def _catalogue_now(u: Universe, n: int) -> set[int]:
    return {i for i in u.candidates(n) if u.alive(i, n) and not u.adult(i)}


def test_the_views_hold_each_genres_movies_as_of_the_last_day(built: Built) -> None:
    con = queries.connect(built.root)
    last = built.genres.catalog
    assert last.day == LAST
    for slug, genre in (("war", WAR), ("crime", CRIME)):
        held = _latest(con, "tmdb_movies_latest", slug, "popularity", "vote_count", "title")
        want = last.genre_ids(genre) - {built.gone}
        assert set(held) == want
        for movie_id, fields in held.items():
            sent = last.detail(movie_id, {"keywords"})
            assert fields == (sent["popularity"], sent["vote_count"], sent["title"])
        # The days did remove and re-genre: the versions hold movies the view must not.
        stored = {i for (i,) in con.execute(
            "SELECT DISTINCT id FROM tmdb_movie_versions WHERE dataset = ?", [slug]
        ).fetchall()}  # fmt: skip
        assert stored - want, f"no {slug} movie left in five days: the test proves nothing"
    left_genre = con.execute(
        "SELECT count(*) FROM tmdb_state, unnest(left_genre) WHERE file = 'removed.json' AND day > ?",
        [day(2).strftime("%Y/%m/%d")],
    ).fetchone()
    assert left_genre is not None and left_genre[0] > 0
    assert built.gone in {i for (i,) in con.execute("SELECT id FROM tmdb_removals").fetchall()}


def test_the_views_hold_each_genres_collections_as_of_the_last_day(built: Built) -> None:
    con = queries.connect(built.root)
    last = built.genres.catalog
    for slug, genre in (("war", WAR), ("crime", CRIME)):
        held = _latest(con, "tmdb_collections_latest", slug, "name")
        members = last.genre_ids(genre) - {built.gone}
        assert set(held) == last.collection_ids(members)
        assert all(name == (last.collections[cid].name,) for cid, name in held.items())


def test_the_views_hold_the_catalogue_as_of_the_last_day(built: Built) -> None:
    con = queries.connect(built.root)
    u = built.universe
    held = _latest(con, "tmdb_movies_latest", "catalogue", "popularity", "title")
    want = _catalogue_now(u, LAST)
    assert set(held) == want
    for movie_id, fields in held.items():
        sent = u.detail(movie_id, LAST, {"keywords"})
        assert fields == (sent["popularity"], sent["title"])
    # The catalogue's days were incremental and removed movies: day 0's snapshot is stale.
    assert _catalogue_now(u, 0) - want
    days = con.execute(
        "SELECT refresh, count(*) FROM tmdb_complete_days WHERE kind = 'movies' AND dataset = 'catalogue' "
        "GROUP BY refresh ORDER BY refresh"
    ).fetchall()
    assert days == [("full", 1), ("incremental", LAST)]
    collections = _latest(con, "tmdb_collections_latest", "catalogue", "name")
    assert set(collections) == {c for c in u.collections() if u.collection(c, LAST) is not None}


def test_an_unfinished_last_day_is_left_out_until_it_completes(built: Built, tmp_path: Path) -> None:
    """Without its removed.json (genre) or one of its done-markers (catalogue), the last day
    is not complete: the views show the day before, as the stand-in had it then."""
    root = tmp_path / "lake"
    shutil.copytree(built.root, root)
    state = root / "_ingest" / day(LAST).strftime("%Y/%m/%d") / "tmdb"
    (state / "movies-war" / "removed.json").unlink()
    next(iter(sorted((state / "movies-catalogue" / "done").iterdir()))).unlink()
    con = queries.connect(root)
    before = built.origin.at_day(LAST - 1)
    held = _latest(con, "tmdb_movies_latest", "war", "popularity")
    assert set(held) == before.genre_ids(WAR) - {built.gone}
    assert all(p == (before.movies[i].popularity,) for i, p in held.items())
    assert set(_latest(con, "tmdb_movies_latest", "catalogue", "title")) == _catalogue_now(
        built.universe, LAST - 1
    )
    # Crime's last day is complete: untouched.
    assert set(_latest(con, "tmdb_movies_latest", "crime", "title")) == (
        built.genres.catalog.genre_ids(CRIME) - {built.gone}
    )
