"""Edges of the queue mode (moto's SQS and S3): an enqueued plan with no batch at all
completes at once, and a dead-lettered message the size of SQS' limit is logged in one
short line that names it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import boto3
import pytest

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.queue.enqueue import run_enqueue
from ingest.reports.counts import TmdbStats
from ingest.settings.config import QueueSettings
from ingest.standin import DAY0, Catalog, DailyChange, Standin
from ingest.state.cursor import read_cursor
from ingest.state.plan import load_plan
from ingest.state.removed import read_removed
from ingest.stop import Stop
from ingest.tmdb.context import RunContext
from ingest.tmdb.stage import run_tmdb
from tests.helpers import eventually
from tests.queue_kit import Queues, env_for, queue_depth, start_worker, write_config
from tests.tmdb_fixtures import FAST, settings_for

WAR = 10752


async def test_an_enqueued_plan_with_no_batches_completes_at_once(
    s3_lake: Lake, aws_env: str, new_queues: Callable[..., Queues]
) -> None:
    # A day on which nothing changed: the incremental plan of day 1 holds no id.
    catalog = Catalog.synthetic({WAR: 150}, seed=29, daily=DailyChange(changed=0, added=0, removed=0))
    queues = new_queues(max_receives=5, visibility_s=30)
    day1 = DAY0 + dt.timedelta(days=1)
    standin = Standin(catalog)
    async with standin.serve() as url:
        full = settings_for(url, s3_lake.url, date=DAY0, collections=True)
        assert await run_tmdb(s3_lake, full, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
        standin.day = 1
        settings = replace(
            settings_for(url, s3_lake.url, date=day1, collections=True),
            queue=QueueSettings(url=queues.url),
        )
        assert await run_enqueue(RunContext(s3_lake, settings, TmdbStats(), Stop(), tuning=FAST))
    plan = await load_plan(s3_lake, day1, Kind.MOVIES, "war")
    assert plan is not None and plan.refresh == "incremental" and plan.ids == ()
    assert queue_depth(aws_env, queues.url) == 0
    # Nothing was sent, and the day is a complete run all the same: the next one starts here.
    for kind in (Kind.MOVIES, Kind.COLLECTIONS):
        cursor = await read_cursor(s3_lake, kind, "war")
        assert cursor is not None and cursor.date == day1, kind
    removed = await read_removed(s3_lake, day1, "war")
    assert removed is not None and removed.count == 0


async def test_a_dead_lettered_message_is_logged_short_and_named(
    tmp_path: Path, aws_env: str, s3_lake_url: str, new_queues: Callable[..., Queues]
) -> None:
    queues = new_queues(max_receives=1, visibility_s=2)
    sqs = boto3.client("sqs", endpoint_url=aws_env, region_name="us-east-1")
    sqs.send_message(QueueUrl=queues.url, MessageBody="x" * 200_000)
    config = write_config(tmp_path, visibility_s=2)
    # A TMDB that answers: a worker consumes only once its start-up checks have passed.
    async with Standin(Catalog.synthetic({10752: 10}, seed=1)).serve() as url:
        worker = await start_worker(env_for(url, s3_lake_url, queues.url), tmp_path, config, 0)
        try:
            await eventually(lambda: worker.events("batch_dead_lettered"), "the message dead-lettered")
        finally:
            assert await worker.terminate() == 0
    (logged,) = worker.events("batch_dead_lettered")
    assert logged["batch"] == "unreadable" and logged["body_chars"] == 200_000
    assert max(len(line) for line in worker.log.read_bytes().splitlines()) < 2_000


@pytest.fixture
def aws_endpoint(moto_endpoint: str) -> str:
    return moto_endpoint
