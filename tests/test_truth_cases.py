"""The cases where what the tool said was not true, one each: a plan made from defaults by
``--enqueue``, a batch whose second piece is gone, a run killed before its last step or
before stage 2, and a queue worker on the wrong lake."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.lake.keys import Kind, tmdb_key
from ingest.queue.messages import BatchMessage
from ingest.queue.work import BatchWorker
from ingest.reports.commands import python
from ingest.reports.counts import TmdbStats
from ingest.standin import DAY0, Catalog, DailyChange, Standin
from ingest.state import open_lake
from ingest.state.dataset import GenreDataset
from ingest.state.plan import load_plan
from ingest.state.removed import removed_key
from ingest.state.runs import RunRequest, record_request
from ingest.status.render import render_text
from ingest.status.survey import survey
from ingest.stop import Stop
from ingest.tmdb import files
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.stage import run_tmdb
from tests.helpers import run_cli, standin_env
from tests.queue_kit import Queues
from tests.tmdb_fixtures import DATE, FAST, settings_for

WAR = 10752


def _catalog() -> Catalog:
    return Catalog.synthetic({WAR: 250, 80: 50}, seed=21, daily=DailyChange(changed=0.05))


async def _verdict(lake_url: str) -> tuple[bool, str]:
    async with open_lake(lake_url) as lake:
        status = await survey(lake, DATE)
    return status.complete, render_text(status).splitlines()[-1]


async def test_enqueue_plans_from_the_whole_job_not_from_defaults(
    tmp_path: Path, bucket: str, new_queues: Callable[..., Queues]
) -> None:
    """After a complete day, ``--refresh full --enqueue`` froze an incremental plan, and a
    movies-only ``--enqueue`` recorded collections as wanted."""
    lake_url = f"s3://{bucket}"
    catalog = _catalog()
    fake = Standin(catalog)
    queues = new_queues(max_receives=5, visibility_s=30)
    async with fake.serve() as url:
        async with open_lake(lake_url) as lake:
            day0 = settings_for(url, lake_url, date=DAY0)
            assert await run_tmdb(lake, day0, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
        fake.day = 1
        day1 = DAY0 + dt.timedelta(days=1)
        args = ("--genre", "war", "--refresh", "full", "--enqueue", "--date", day1.isoformat())
        env = standin_env(url, INGEST_LAKE=lake_url, INGEST_QUEUE_URL=queues.url)
        done = await run_cli(*args, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    async with open_lake(lake_url) as lake:
        plan = await load_plan(lake, day1, Kind.MOVIES, "war")
        assert plan is not None and plan.refresh == "full"
        assert set(plan.ids) == fake.catalog.genre_ids(WAR)
        status = await survey(lake, day1)
    # Movies only: no collections row, and the hint is to start workers, not to rerun.
    assert [f"{t.genre} {t.kind}" for t in status.tmdb] == ["war movies"]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ingest: enqueued 3 batches (250 movies planned)"), last
    assert "start queue workers" in render_text(status).splitlines()[-1]


async def test_a_lost_second_piece_of_a_split_batch_is_refetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crawler and status agree on "a batch is in the lake": every file its marker names."""
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 60_000)  # a batch of 100 movies: 2-3 pieces
    lake_url = str(tmp_path / "lake")
    async with Standin(_catalog()).serve() as url:
        settings = settings_for(url, lake_url)
        async with open_lake(lake_url) as lake:
            assert await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
            second = tmdb_key(
                Kind.MOVIES, DATE, "war", GenreDataset(Kind.MOVIES, slug="war").file_number(1, 2)
            )
            assert await lake.stat(second) is not None
            (tmp_path / "lake" / second).unlink()
            complete, verdict = await _verdict(lake_url)
            assert not complete and verdict.startswith("incomplete: 1 TMDB batch not in the lake"), verdict
            assert await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
            assert await lake.stat(second) is not None
    assert (await _verdict(lake_url))[0]


async def test_a_run_killed_before_its_last_step_or_before_stage_2_is_incomplete(tmp_path: Path) -> None:
    lake_url = str(tmp_path / "lake")
    async with Standin(_catalog()).serve() as url:
        settings = settings_for(url, lake_url, genres=("war", "crime"), collections=True)
        async with open_lake(lake_url) as lake:
            # Killed after stage 1 (here: before any plan): what it asked for is missing.
            await record_request(lake, RunRequest.of(settings, "cli"))
            complete, verdict = await _verdict(lake_url)
            assert not complete
            assert "asked for and never planned: crime movies, crime collections, war movies" in verdict
            assert (
                f"rerun to finish it: {python()} -m ingest --genre war --genre crime --media movies --collections"
                in verdict
            )
            assert await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
            assert (await _verdict(lake_url))[0]
            # Killed between the last batch and removed.json: not a complete run yet.
            (tmp_path / "lake" / removed_key(DATE, "war")).unlink()
            complete, verdict = await _verdict(lake_url)
            assert not complete and "last step not taken: war movies" in verdict, verdict
            assert await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
    assert (await _verdict(lake_url))[0]


async def test_a_limit_run_needs_no_last_step(tmp_path: Path) -> None:
    lake_url = str(tmp_path / "lake")
    async with Standin(_catalog()).serve() as url:
        settings = settings_for(url, lake_url, limit=120)
        async with open_lake(lake_url) as lake:
            await record_request(lake, RunRequest.of(settings, "cli"))
            assert await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
    assert (await _verdict(lake_url))[0]


async def test_a_worker_on_another_lake_leaves_the_message(tmp_path: Path) -> None:
    lake_a, lake_b = str(tmp_path / "a"), str(tmp_path / "b")
    async with Standin(_catalog()).serve() as url:
        settings = settings_for(url, lake_a)
        async with open_lake(lake_a) as lake:
            assert await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
            plan = await load_plan(lake, DATE, Kind.MOVIES, "war")
            assert plan is not None
            message = BatchMessage.of(plan, plan.batches(len(plan.ids))[0], len(plan.ids), lake.url)
        async with open_lake(lake_b) as other, TmdbClient(settings.tmdb, TmdbStats(), tuning=FAST) as client:
            worker = BatchWorker(other, client, TmdbStats(), Stop(), concurrency=4)
            assert await worker.run(message) == "wrong_lake"
            assert await worker.run(replace(message, lake=None)) == "stale"
