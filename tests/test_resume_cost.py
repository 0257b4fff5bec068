"""What a kill costs: records are kept only in whole batches, and at most two batches are
partly fetched at any moment, so a 1,500-movie crawl killed at any point fetches at most
200 of the movies it had already fetched again on the rerun."""

from __future__ import annotations

import asyncio
from asyncio.subprocess import DEVNULL
from pathlib import Path

import pytest

from ingest.lake.keys import Kind, tmdb_prefix
from ingest.standin import Catalog, Standin
from tests.helpers import kill_once_written, standin_env, start_cli
from tests.tmdb_fixtures import DATE, dir_records

CRIME = 80


async def _ingest(env: dict[str, str], lake: Path) -> asyncio.subprocess.Process:
    args = ("--genre", "crime", "--lake", str(lake), "--date", DATE.isoformat(), "--rate", "1000")
    return await start_cli(
        *args, "--concurrency", "20", cwd=lake.parent, env=env, stdout=DEVNULL, stderr=DEVNULL
    )


@pytest.mark.parametrize("files", [1, 6, 12])
async def test_a_killed_crawl_refetches_at_most_two_batches(files: int, tmp_path: Path) -> None:
    catalog = Catalog.synthetic({CRIME: 1500}, seed=3)
    # Slow enough that a kill lands mid-run, wherever it is asked to.
    fake = Standin(catalog, latency_s=0.01)
    lake = tmp_path / "lake"
    async with fake.serve() as url:
        env = standin_env(url)
        folder = lake / tmdb_prefix(Kind.MOVIES, DATE)
        await kill_once_written(await _ingest(env, lake), folder, "crime-*.json", files)
        first = set(fake.counters.movie_requests)
        fake.counters.movie_requests.clear()
        rerun = await _ingest(env, lake)
        assert await rerun.wait() == 0
        second = set(fake.counters.movie_requests)
    refetched = first & second
    assert len(refetched) <= 200, f"{len(refetched)} movies fetched twice after a kill at {files} files"
    ids = [r["id"] for r in dir_records(lake, Kind.MOVIES, "crime")]
    assert sorted(ids) == sorted(catalog.genre_ids(CRIME))
