"""Every run record ends with an outcome in the contract's words, whatever ends the run:
a Ctrl-C mid-crawl is ``stopped`` (not left ``null``, which status reserves for a kill).
``python -m ingest`` as a real process against the TMDB stand-in, one movie of which
hangs so the run is surely mid-crawl when the signal comes."""

from __future__ import annotations

import signal
from pathlib import Path

import orjson

from ingest.standin import Catalog, Standin
from ingest.state import keys
from tests.helpers import eventually, standin_env, start_cli
from tests.tmdb_fixtures import DATE

WAR = 10752


async def test_a_ctrl_c_mid_crawl_records_the_run_as_stopped(tmp_path: Path) -> None:
    catalog = Catalog.synthetic({WAR: 40}, seed=4)
    stalled = min(catalog.genre_ids(WAR))
    fake = Standin(catalog, stall_ids={stalled}, stall_s=120)
    lake = tmp_path / "lake"
    runs = lake / keys.runs(DATE)
    async with fake.serve() as url:
        env = standin_env(url, INGEST_LAKE=str(lake))
        proc = await start_cli("--genre", "war", "--date", DATE.isoformat(), cwd=tmp_path, env=env)
        # The plan is frozen: the run is fetching, and one movie keeps it there.
        plan = lake / keys.dataset(DATE, "movies", "war") / "plan.json"
        await eventually(lambda: plan.exists() and proc.returncode is None, "the run to be fetching")
        proc.send_signal(signal.SIGINT)
        _, err = await proc.communicate()
    assert proc.returncode == 130, err.decode()[-2000:]
    (record,) = runs.glob("*.json")
    body = orjson.loads(record.read_bytes())
    assert body["outcome"] == "stopped" and body["finished_at"], body
