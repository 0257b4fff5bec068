"""Hard edges of stage 2, through ``python -m ingest`` as a real process: a TMDB that
cannot be reached from the start, one that goes down mid-crawl, and a stop while the
rate limiter's next slot is far away."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import pytest

from ingest.lake.keys import Kind
from ingest.standin import STANDIN_TOKEN, Catalog, Standin, free_port
from tests.helpers import eventually
from tests.test_tmdb_cli import _cli, _env, _start
from tests.tmdb_fixtures import dir_records

WAR = 10752
# Well above "a few seconds", well below the ~52 s of eight retry rounds: a bound on how
# long to wait for the process, not a measurement.
PROMPTLY_S = 30


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({WAR: 600}, seed=31)


async def _finish(proc: asyncio.subprocess.Process, within_s: float) -> tuple[int, str]:
    _, err = await asyncio.wait_for(proc.communicate(), within_s)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_a_tmdb_that_cannot_be_reached_at_start_is_a_setting(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = await _start(tmp_path, _env(url, token=STANDIN_TOKEN), "--genre", "war")
    rc, err = await _finish(proc, PROMPTLY_S)
    assert rc == 2, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("ingest: cannot reach TMDB at ") and url in last
    assert "TMDB_BASE_URL" in last and "rerun" not in last
    assert "Traceback" not in err and STANDIN_TOKEN not in err


async def test_a_tmdb_that_goes_down_mid_crawl_ends_the_run_and_the_rerun_completes(
    tmp_path: Path, catalog: Catalog
) -> None:
    fake = Standin(catalog, latency_s=0.02)
    args = ("--genre", "war", "--concurrency", "4", "--rate", "300")
    port = free_port()
    async with fake.serve(port=port) as url:
        env = _env(url, token=STANDIN_TOKEN)
        proc = await _start(tmp_path, env, *args)
        await eventually(
            lambda: fake.counters.requests["movie"] >= 150 or proc.returncode is not None, "150 movies"
        )
    # The stand-in is gone: every request now finds the port closed.
    rc, err = await _finish(proc, PROMPTLY_S)
    assert rc == 1, err[-2000:]
    assert err.count('"tmdb_unreachable"') == 1
    last = err.strip().splitlines()[-1]
    assert "stopped answering" in last and "rerun the same command to resume" in last
    written = dir_records(tmp_path / "lake", Kind.MOVIES, "war")
    assert 0 < len(written) < 600
    async with fake.serve(port=port):
        rc, _, err = await _cli(tmp_path, env, *args)
    assert rc == 0, err[-2000:]
    ids = [r["id"] for r in dir_records(tmp_path / "lake", Kind.MOVIES, "war")]
    assert len(ids) == len(set(ids)) == 600 and set(ids) == catalog.genre_ids(WAR)
    # What the first run wrote was kept, not fetched again.
    assert {r["id"] for r in written} <= set(ids)
    assert max(Counter(fake.counters.movie_requests).values()) <= 1 + 8


async def test_sigterm_interrupts_a_wait_for_a_slow_rate(tmp_path: Path, catalog: Catalog) -> None:
    fake = Standin(catalog)
    async with fake.serve() as url:
        # The slowest rate allowed: the genre would take ~15 minutes at 0.5 requests/s, and
        # every request after the first waits its slot in the limiter.
        proc = await _start(tmp_path, _env(url, token=STANDIN_TOKEN), "--genre", "war", "--rate", "0.5")
        await eventually(lambda: fake.counters.total >= 1 or proc.returncode is not None, "a first request")
        proc.send_signal(signal.SIGTERM)
        rc, err = await _finish(proc, PROMPTLY_S)
    assert rc == 1, err[-2000:]
    assert "stopped (SIGTERM)" in err.strip().splitlines()[-1]
    # Within Stop.GRACE_S of the signal at most one more slot comes up.
    assert fake.counters.total <= 3 and "Traceback" not in err
