"""A Raw zone written by the real pipeline, for the status and query-engine tests.

Both stages run in-process against a real lake (a directory or moto's S3): the sample
CSV files through stage 1, and a small synthetic catalogue's War and Crime movies and
their collections, and its Crime and War & Politics TV series, through stage 2, served
over HTTP by the TMDB stand-in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

from ingest.csv.stage import ingest_file
from ingest.lake import Lake
from ingest.reports.counts import TmdbStats
from ingest.standin import Catalog, Standin, TvCatalog
from ingest.state.runs import RunRequest, record_request
from ingest.stop import Stop
from ingest.tmdb.stage import run_tmdb
from tests.tmdb_fixtures import DATE, FAST, settings_for

ROOT = Path(__file__).resolve().parents[1]
CSV_FILES = (ROOT / "data" / "movies.csv", ROOT / "data" / "series.csv")
WAR, CRIME, WAR_POLITICS = 10752, 80, 10768


def small_catalog() -> Catalog:
    # War spans three batches (the last one short), Crime two: enough to lose one of each.
    return Catalog.synthetic({WAR: 230, CRIME: 140}, seed=5)


def small_tv(catalog: Catalog) -> TvCatalog:
    # Some series take a movie's id: the two number spaces meet, as TMDB's do.
    return TvCatalog.synthetic({CRIME: 70, WAR_POLITICS: 40}, seed=5, movie_ids=catalog.movies)


async def write_raw_zone(lake: Lake, catalog: Catalog, *, gone_ids: Collection[int] = ()) -> Standin:
    """Run both stages for ``DATE`` into ``lake``; return the stand-in (its counters)."""
    fake = Standin(catalog, tv=small_tv(catalog), gone_ids=gone_ids)
    async with fake.serve() as url:
        settings = settings_for(url, lake.url, genres=("war", "crime"), collections=True)
        settings = replace(settings, job=replace(settings.job, media=("movies", "series")))
        # What run_job records first: status holds the date to what it asked for.
        asked = replace(settings, job=replace(settings.job, csv=CSV_FILES))
        await record_request(lake, RunRequest.of(asked, "cli"))
        for path in CSV_FILES:
            await ingest_file(lake, path, DATE, progress=False)
        done = await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
    assert done
    return fake
