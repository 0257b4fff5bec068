"""Deadlines: a TMDB answer that drips, a batch that never comes back whole and an S3 store
that stalls mid-upload each become retries and then a failure, never a hang. The deadlines
are settings; here they are fractions of a second, so each case ends in a few seconds
(``BOUND_S`` is how long to wait before calling it a hang, not a measurement)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ingest.errors import RetryableError, RunError
from ingest.lake import Lake, UploadTuning
from ingest.lake import s3 as s3_module
from ingest.lake.keys import Kind
from ingest.remote.retry import Backoff
from ingest.reports.counts import TmdbStats
from ingest.standin import STANDIN_TOKEN, Catalog, Standin
from ingest.state import open_lake
from ingest.stop import Stop
from ingest.tmdb.stage import run_tmdb
from tests.s3_faults import Stall, faulty_s3
from tests.test_tmdb_cli import _cli, _env
from tests.tmdb_fixtures import FAST, dir_records, lake_files, records, settings_for

WAR = 10752
MIB = 1024 * 1024
BOUND_S = 60


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({WAR: 150}, seed=23)


def _first(catalog: Catalog) -> int:
    return max(catalog.genre_ids(WAR), key=lambda i: (catalog.movies[i].popularity, -i))


async def _run(lake: Lake, url: str, **kw: Any) -> bool:
    settings = settings_for(url, lake.url, **kw)
    run = run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
    return await asyncio.wait_for(run, BOUND_S)


async def test_an_answer_that_drips_is_cut_retried_and_fails_its_batch(
    tmp_path: Path, catalog: Catalog
) -> None:
    slow = _first(catalog)
    # A byte every 50 ms: never 2 s of silence (the read timeout), never a whole answer.
    fake = Standin(catalog, hostile={slow: "drip"}, drip_s=0.05)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        with pytest.raises(RunError) as caught:
            await _run(lake, url, max_attempts=3, request_timeout_s=0.3)
        stored = records(await lake_files(lake, Kind.MOVIES, "war"))
    assert fake.counters.movie_requests[slow] == 3
    assert "no whole answer within 0.3 s" in str(caught.value)
    # Its batch failed alone; the other one is in.
    assert len(stored) == 50 and slow not in {r["id"] for r in stored}


async def test_a_batch_past_its_budget_fails_and_the_run_ends(tmp_path: Path, catalog: Catalog) -> None:
    slow = _first(catalog)
    # Each request for it hangs 20 s, inside the request's own 30 s: only the budget cuts it.
    fake = Standin(catalog, stall_ids={slow}, stall_times=100, stall_s=20)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        with pytest.raises(RunError) as caught:
            await _run(lake, url, read_timeout_s=30, batch_budget_s=0.5)
        stored = records(await lake_files(lake, Kind.MOVIES, "war"))
    assert fake.counters.movie_requests[slow] == 1
    assert f"ran out of its 0.5 s ([tmdb] batch_budget_s) at id {slow}" in str(caught.value)
    assert len(stored) == 50 and slow not in {r["id"] for r in stored}


async def test_the_deadlines_are_settings_of_the_command(tmp_path: Path, catalog: Catalog) -> None:
    slow = _first(catalog)
    (tmp_path / "config.toml").write_text(
        "[tmdb]\nrequest_timeout_s = 0.3\nmax_attempts = 2\nrate_per_s = 1000\n"
    )
    fake = Standin(catalog, hostile={slow: "drip"}, drip_s=0.05)
    async with fake.serve() as url:
        rc, _, err = await _cli(tmp_path, _env(url, token=STANDIN_TOKEN), "--genre", "war")
    assert rc == 1, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert "no whole answer within 0.3 s" in last and "Traceback" not in err
    assert len(dir_records(tmp_path / "lake", Kind.MOVIES, "war")) == 50


def _in_upload(request: web.Request) -> bool:
    # Everything after the upload started: its parts, its completion, its abort.
    return "uploadId" in request.query


@pytest.mark.parametrize("budget_s", [0.5, 60.0])
async def test_an_s3_store_that_stalls_mid_upload_ends_the_call(
    tmp_path: Path,
    s3: Any,
    bucket: str,
    aws_env: str,
    monkeypatch: pytest.MonkeyPatch,
    budget_s: float,
) -> None:
    monkeypatch.setattr(s3_module, "BACKOFF", Backoff(base_s=0.001, cap_s=0.01))
    src = tmp_path / "movies.csv"
    src.write_bytes(b"a|b\n" + b"1|2\n" * (3 * MIB))
    # A 0.5 s budget ends the call; with 60 s: the attempts' own deadlines do (3 x 0.3 s).
    tuning = UploadTuning(
        part_size=5 * MIB, parts_in_flight=2, max_attempts=3, request_timeout_s=0.3, part_budget_s=budget_s
    )
    async with faulty_s3(aws_env) as proxy:
        stall = Stall(_in_upload)
        proxy.stalls.append(stall)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        async with open_lake(f"s3://{bucket}", tuning) as lake:
            with pytest.raises(RetryableError) as caught:
                await asyncio.wait_for(lake.upload_file("Raw/x/movies.csv", src, sha256="0" * 64), BOUND_S)
            # The store answers again: the same upload goes through.
            stall.lift()
            await lake.upload_file("Raw/x/movies.csv", src, sha256="0" * 64)
    message = str(caught.value)
    if budget_s < 60:
        assert "within its 0.5 s budget ([upload] part_budget_s)" in message
    else:
        assert "failed after 3 attempts (no answer within 0.3 s)" in message
    assert stall.hits >= 3
    assert s3.get_object(Bucket=bucket, Key="Raw/x/movies.csv")["Body"].read() == src.read_bytes()
