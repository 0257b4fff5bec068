"""Fan-out on SQS (moto's server, then LocalStack 4.14.0): ``--enqueue`` plans and sends, ``python -m workers --queue``
processes fetch, as real processes against the TMDB stand-in and an S3 lake.

Every movie and every collection lands exactly once with three workers; a worker killed
with SIGKILL mid-batch leaves its batch to be redelivered and written once; a batch whose
movies always fail goes to the dead-letter queue after maxReceiveCount while the rest
finish, and says so in the logs and /metrics.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import boto3
import orjson
import pytest

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.queue.messages import BatchMessage
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Job
from ingest.settings.genres import resolve_genre
from ingest.standin import Catalog, Standin
from ingest.state import open_lake
from ingest.state.claims import claim_key, claim_state
from ingest.state.cursor import cursor_key, read_cursor
from ingest.state.markers import missing_batches
from ingest.state.plan import load_plan
from ingest.state.removed import removed_key
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.planner import GenrePlanner
from tests.helpers import delete_from_lake, eventually
from tests.queue_kit import (
    Queues,
    Worker,
    enqueue,
    env_for,
    queue_depth,
    receive_all,
    run_ingest,
    start_worker,
    write_config,
)
from tests.tmdb_fixtures import DATE, FAST, lake_files, records, settings_for

WAR = 10752
# The fleet test's genre is the 6,000 movies (60 batches, about 20 s per
# backend); the redelivery and dead-letter tests take 1,200 (12 batches): the same paths.
BIG = 6000
MOVIES = 1200


@pytest.fixture
def aws_endpoint(on_both: str) -> str:
    """Every test here runs on moto's server and on LocalStack."""
    return on_both


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({WAR: MOVIES}, seed=11)


@pytest.fixture(scope="module")
def big_catalog() -> Catalog:
    return Catalog.synthetic({WAR: BIG}, seed=12)


async def _wait_until_whole(lake: Lake, endpoint: str, queues: Queues, workers: Sequence[Worker]) -> None:
    """Poll until both of the genre's datasets are whole in the lake and the queue is empty."""

    async def whole() -> bool:
        for w in workers:
            assert w.proc.returncode is None, w.log.read_text()[-3000:]
        movies = await load_plan(lake, DATE, Kind.MOVIES, "war")
        colls = await load_plan(lake, DATE, Kind.COLLECTIONS, "war")
        return (
            movies is not None
            and colls is not None
            and not await missing_batches(lake, movies, len(movies.ids))
            and not await missing_batches(lake, colls, len(colls.ids))
            and queue_depth(endpoint, queues.url) == 0
        )

    await eventually(whole, "the workers to finish", within_s=300, every_s=0.1)


async def _assert_every_record_once(lake: Lake, catalog: Catalog) -> None:
    ids = [r["id"] for r in records(await lake_files(lake, Kind.MOVIES, "war"))]
    assert Counter(ids) == Counter(catalog.genre_ids(WAR))
    colls = [r["id"] for r in records(await lake_files(lake, Kind.COLLECTIONS, "war"))]
    assert Counter(colls) == Counter(catalog.collection_ids(catalog.genre_ids(WAR)))


async def test_enqueue_without_a_queue_is_exit_2(tmp_path: Path, aws_env: str, s3_lake_url: str) -> None:
    env = env_for("http://127.0.0.1:9", s3_lake_url, "")
    del env["INGEST_QUEUE_URL"]
    rc, err = await enqueue(env, tmp_path, "--genre", "war")
    assert rc == 2 and err.count("\n") == 1 and "INGEST_QUEUE_URL" in err and "Traceback" not in err


async def test_three_workers_land_every_movie_and_collection_once(
    tmp_path: Path, aws_env: str, s3_lake_url: str, big_catalog: Catalog, new_queues: Callable[..., Queues]
) -> None:
    catalog = big_catalog
    queues = new_queues(max_receives=5, visibility_s=30)
    config = write_config(tmp_path, visibility_s=30)
    fake = Standin(catalog, latency_s=0.005)
    async with fake.serve() as url, open_lake(s3_lake_url) as lake:
        env = env_for(url, s3_lake_url, queues.url)
        rc, err = await enqueue(env, tmp_path, "--genre", "war", "--collections")
        assert rc == 0, err[-2000:]
        # One message per movie batch; the collections follow from the workers.
        assert queue_depth(aws_env, queues.url) == BIG // 100
        workers = [await start_worker(env, tmp_path, config, n) for n in range(3)]
        try:
            await _wait_until_whole(lake, aws_env, queues, workers)
            metrics = [w.metrics() for w in workers]
        finally:
            codes = [await w.terminate() for w in workers]
        assert codes == [0, 0, 0]
        await _assert_every_record_once(lake, catalog)
        colls = await load_plan(lake, DATE, Kind.COLLECTIONS, "war")
        assert colls is not None
        # The fleet's run is a complete run, as a one-shot's is: both cursors moved to its
        # date, so the next run of the genre is incremental.
        for kind in (Kind.MOVIES, Kind.COLLECTIONS):
            cursor = await read_cursor(lake, kind, "war")
            assert cursor is not None and cursor.date == DATE, kind
        assert await lake.read(removed_key(DATE, "war")) is not None
    done = sum(m['ingest_queue_batches_total{state="done"}'] for m in metrics)
    assert done == BIG // 100 + len(colls.batches(len(colls.ids)))
    # Exactly one worker froze the collections' plan and sent its batches.
    assert sum(len(w.events("collections_enqueued")) for w in workers) == 1
    # The work was shared.
    assert sum(m['ingest_queue_batches_total{state="done"}'] > 0 for m in metrics) >= 2


async def test_a_batch_of_a_killed_worker_is_redelivered_and_written_once(
    tmp_path: Path, aws_env: str, s3_lake_url: str, catalog: Catalog, new_queues: Callable[..., Queues]
) -> None:
    queues = new_queues(max_receives=5, visibility_s=2)
    config = write_config(tmp_path, visibility_s=2)
    # Slow answers: a batch takes long enough to be killed in its middle.
    fake = Standin(catalog, latency_s=0.05)
    async with fake.serve() as url, open_lake(s3_lake_url) as lake:
        env = env_for(url, s3_lake_url, queues.url)
        rc, err = await enqueue(env, tmp_path, "--genre", "war", "--collections")
        assert rc == 0, err[-2000:]
        victim = await start_worker(env, tmp_path, config, 0)
        await eventually(lambda: fake.counters.requests["movie"] >= 50, "50 movie requests")
        assert victim.metrics()["ingest_queue_batches_in_flight"] >= 1
        assert not await lake.list(f"Raw/TMDB/JSON/Movies/{DATE:%Y/%m/%d}/")
        victim.proc.kill()
        assert await victim.proc.wait() == -9
        fake.latency_s = 0.0  # slow only so that the kill lands mid-batch
        workers = [await start_worker(env, tmp_path, config, n) for n in (1, 2)]
        try:
            await _wait_until_whole(lake, aws_env, queues, workers)
            metrics = [w.metrics() for w in workers]
        finally:
            codes = [await w.terminate() for w in workers]
        assert codes == [0, 0]
        await _assert_every_record_once(lake, catalog)
    assert sum(m['ingest_queue_batches_total{state="redelivered"}'] for m in metrics) >= 1


async def test_collections_claimed_by_a_worker_that_died_are_sent_when_its_message_comes_back(
    tmp_path: Path, aws_env: str, s3_lake_url: str, catalog: Catalog, new_queues: Callable[..., Queues]
) -> None:
    """A worker landed the genre's last movie batch, claimed its collections and died
    before sending them (and before deleting its message). Its message comes back with
    the batch already done: the worker that takes it sends the collections in its place."""
    queues = new_queues(max_receives=5, visibility_s=2)
    config = write_config(tmp_path, visibility_s=2)
    movies_only = tmp_path / "movies-only.toml"
    movies_only.write_text("[job]\ncollections = false\n")
    fake = Standin(catalog, latency_s=0.005)
    async with fake.serve() as url, open_lake(s3_lake_url) as lake:
        env = env_for(url, s3_lake_url, queues.url)
        # The state the dead worker left: every movie batch in the lake...
        rc, err = await run_ingest(env, tmp_path, "--genre", "war", "--config", str(movies_only))
        assert rc == 0, err[-2000:]
        movies = await load_plan(lake, DATE, Kind.MOVIES, "war")
        assert movies is not None and not await missing_batches(lake, movies, len(movies.ids))
        # ...the collection plan it froze, and its claim, unsent, from an hour ago.
        settings = settings_for(url, s3_lake_url)
        async with TmdbClient(settings.tmdb, TmdbStats(), tuning=FAST) as client:
            planner = GenrePlanner(lake, DATE, Job(), client, TmdbStats(), progress=False)
            colls = await planner.collections(resolve_genre("war"), movies, len(movies.ids), {})
        last = movies.batches(len(movies.ids))[-1]
        message = BatchMessage.of(movies, last, len(movies.ids), lake.url, then_collections=True)
        claimed = {"claimed_at": "2026-11-28T00:00:00+00:00", "sent": False, "by": message.name}
        assert await lake.create(claim_key(colls), orjson.dumps(claimed))
        # It died before the completion step too: no removed.json, no cursor for the date.
        for key in (cursor_key(Kind.MOVIES, "war"), removed_key(DATE, "war")):
            delete_from_lake(s3_lake_url, key)
        assert await read_cursor(lake, Kind.MOVIES, "war") is None
        # Its message, back after the visibility timeout.
        sqs = boto3.client("sqs", endpoint_url=aws_env, region_name="us-east-1")
        sqs.send_message(QueueUrl=queues.url, MessageBody=message.body())

        worker = await start_worker(env, tmp_path, config, 0)
        try:
            await _wait_until_whole(lake, aws_env, queues, [worker])
        finally:
            assert await worker.terminate() == 0
        await _assert_every_record_once(lake, catalog)
        assert claim_state(await lake.read(claim_key(colls))) == "sent"
        # The worker that took the message back took the completion step in its place.
        cursor = await read_cursor(lake, Kind.MOVIES, "war")
        assert cursor is not None and cursor.date == DATE
        assert await lake.read(removed_key(DATE, "war")) is not None
    assert len(worker.events("collections_claim_taken_over")) == 1
    assert len(worker.events("collections_enqueued")) == 1


def test_a_claim_is_pending_while_its_worker_may_still_be_sending() -> None:
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)

    def claim(**body: object) -> bytes:
        return orjson.dumps(body)

    assert claim_state(claim(claimed_at="2026-11-28T11:59:30+00:00", sent=False), now) == "pending"
    assert claim_state(claim(claimed_at="2026-11-28T11:58:30+00:00", sent=False), now) == "abandoned"
    assert claim_state(claim(claimed_at="2026-11-28T11:59:30+00:00", sent=True), now) == "sent"
    # A claim from before claims said whether they were sent, or one that cannot be read.
    assert claim_state(b'{"kind": "movies"}', now) == claim_state(b"not json", now) == "sent"


async def test_a_batch_that_always_fails_is_dead_lettered_and_the_rest_finish(
    tmp_path: Path, aws_env: str, s3_lake_url: str, catalog: Catalog, new_queues: Callable[..., Queues]
) -> None:
    queues = new_queues(max_receives=2, visibility_s=2)
    config = write_config(tmp_path, visibility_s=2, max_attempts=2)
    async with open_lake(s3_lake_url) as lake:
        fake = Standin(catalog)
        async with fake.serve() as url:
            env = env_for(url, s3_lake_url, queues.url)
            rc, err = await enqueue(env, tmp_path, "--genre", "war")
            assert rc == 0, err[-2000:]
            plan = await load_plan(lake, DATE, Kind.MOVIES, "war")
            assert plan is not None
            broken_batch = plan.batches(len(plan.ids))[4]
            # A few of its movies answer 503 whatever the retries: the batch can never be written.
            fake.broken_ids = set(broken_batch.ids[:5])
            workers = [await start_worker(env, tmp_path, config, n) for n in range(2)]

            async def only_the_broken_batch_left() -> bool:
                left = await missing_batches(lake, plan, len(plan.ids))
                return [b.number for b in left] == [5] and queue_depth(aws_env, queues.url) == 0

            try:
                await eventually(
                    only_the_broken_batch_left, "batch 5 dead-lettered", within_s=300, every_s=0.1
                )
                metrics = [w.metrics() for w in workers]
            finally:
                codes = [await w.terminate() for w in workers]
        assert codes == [0, 0]
        assert [b.number for b in await missing_batches(lake, plan, len(plan.ids))] == [5]
        ids = [r["id"] for r in records(await lake_files(lake, Kind.MOVIES, "war"))]
        assert Counter(ids) == Counter(set(plan.ids) - set(broken_batch.ids))
    dead = receive_all(aws_env, queues.dead_letter_url)
    assert [orjson.loads(m["Body"])["batch"] for m in dead] == [5]
    assert sum(m['ingest_queue_batches_total{state="dead_lettered"}'] for m in metrics) == 1
    logged = [e for w in workers for e in w.events("batch_dead_lettered")]
    assert len(logged) == 1 and orjson.loads(logged[0]["body"])["batch"] == 5


async def test_sigterm_finishes_the_batches_in_flight_and_leaves_the_rest_queued(
    tmp_path: Path, aws_env: str, s3_lake_url: str, catalog: Catalog, new_queues: Callable[..., Queues]
) -> None:
    queues = new_queues(max_receives=5, visibility_s=30)
    config = write_config(tmp_path, visibility_s=30)
    fake = Standin(catalog, latency_s=0.05)
    async with fake.serve() as url, open_lake(s3_lake_url) as lake:
        env = env_for(url, s3_lake_url, queues.url)
        rc, err = await enqueue(env, tmp_path, "--genre", "war")
        assert rc == 0, err[-2000:]
        worker = await start_worker(env, tmp_path, config, 0)
        await eventually(lambda: fake.counters.requests["movie"] >= 30, "30 movie requests")
        assert not await lake.list(f"Raw/TMDB/JSON/Movies/{DATE:%Y/%m/%d}/")
        assert await worker.terminate() == 0
        plan = await load_plan(lake, DATE, Kind.MOVIES, "war")
        assert plan is not None
        left = await missing_batches(lake, plan, len(plan.ids))
        written = [r["id"] for r in records(await lake_files(lake, Kind.MOVIES, "war"))]
    (stopped,) = worker.events("queue_consumer_stopped")
    # The batches in flight at SIGTERM were finished whole, and only they were deleted.
    assert stopped["done"] >= 1 and len(written) == 100 * stopped["done"] == len(set(written))
    assert len(left) == MOVIES // 100 - stopped["done"] == queue_depth(aws_env, queues.url)
