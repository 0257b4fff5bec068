"""The Lambda handler given an SQS event (an event source mapping with
ReportBatchItemFailures): it fetches each message's batch and names the failed ones."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ingest.aws_lambda import handler
from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.queue.messages import BatchMessage
from ingest.standin import STANDIN_TOKEN, Catalog, Standin
from ingest.state import open_lake
from ingest.state.markers import missing_batches
from ingest.state.plan import Plan, create_plan
from tests.helpers import LambdaContext
from tests.tmdb_fixtures import DATE, lake_files, records

WAR = 10752


def _record(n: int, body: str) -> dict[str, Any]:
    return {
        "messageId": f"message-{n}",
        "receiptHandle": f"receipt-{n}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:batches",
        "awsRegion": "us-east-1",
    }


async def _plan_and_event(lake: Lake, ids: tuple[int, ...]) -> tuple[Plan, dict[str, Any]]:
    """A movie plan of ``ids`` in the lake, and the SQS event carrying one message per batch."""
    plan = await create_plan(lake, Plan(Kind.MOVIES, WAR, "war", DATE, ids, complete=True))
    batches = plan.batches(len(ids))
    return plan, {
        "Records": [_record(b.number, BatchMessage.of(plan, b, len(ids), lake.url).body()) for b in batches]
    }


def _lambda_env(monkeypatch: pytest.MonkeyPatch, folder: Path, lake_url: str, config: str) -> None:
    """The function's environment: ``config`` as its config.toml, the lake, a token; nothing
    else of ours (TMDB_BASE_URL is set once the stand-in serves)."""
    (folder / "config.toml").write_text(config)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("INGEST_LAKE", lake_url)
    monkeypatch.setenv("TMDB_READ_ACCESS_TOKEN", STANDIN_TOKEN)
    for name in ("INGEST_CONFIG", "INGEST_QUEUE_URL", "TMDB_API_KEY", "TMDB_TOKEN_PARAMETER"):
        monkeypatch.delenv(name, raising=False)


async def test_an_sqs_event_answers_with_exactly_the_failed_batch(
    s3_lake_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = Catalog.synthetic({WAR: 300}, seed=4)
    ids = tuple(sorted(catalog.genre_ids(WAR)))
    async with open_lake(s3_lake_url) as lake:
        plan, event = await _plan_and_event(lake, ids)
        batches = plan.batches(len(ids))
        # Every movie of the second batch answers 503, whatever the retries.
        fake = Standin(catalog, broken_ids=batches[1].ids)
        _lambda_env(monkeypatch, tmp_path, s3_lake_url, "[tmdb]\nrate_per_s = 1000\nmax_attempts = 2\n")
        async with fake.serve() as url:
            monkeypatch.setenv("TMDB_BASE_URL", url)
            # The handler runs its own event loop, as in Lambda: in a thread beside the stand-in's.
            answer = await asyncio.to_thread(handler, event, LambdaContext(120))
        assert answer == {"batchItemFailures": [{"itemIdentifier": "message-2"}]}
        assert [b.number for b in await missing_batches(lake, plan, len(ids))] == [2]
        written = [r["id"] for r in records(await lake_files(lake, Kind.MOVIES, "war"))]
        assert sorted(written) == sorted(batches[0].ids + batches[2].ids)


async def test_batches_still_running_near_the_deadline_are_cut_and_answered_as_failed(
    s3_lake_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TMDB so slow that no batch can finish in the invocation: the handler cuts them
    before Lambda would stop it, and answers with every record, so each comes back."""
    catalog = Catalog.synthetic({WAR: 200}, seed=5)
    ids = tuple(sorted(catalog.genre_ids(WAR)))
    async with open_lake(s3_lake_url) as lake:
        plan, event = await _plan_and_event(lake, ids)
        batches = plan.batches(len(ids))
        # 100 movies at 2 in flight and 1 s each: 50 s a batch, against 6 s of invocation.
        fake = Standin(catalog, latency_s=1.0)
        config = "[tmdb]\nrate_per_s = 1000\nconcurrency = 2\n[lambda]\nreserve_s = 2\n"
        _lambda_env(monkeypatch, tmp_path, s3_lake_url, config)
        async with fake.serve() as url:
            monkeypatch.setenv("TMDB_BASE_URL", url)
            context = LambdaContext(6)
            answer = await asyncio.to_thread(handler, event, context)
            # Answered while the invocation still had time left (the cut is 1 s before).
            assert context.get_remaining_time_in_millis() > 0
        assert answer == {"batchItemFailures": [{"itemIdentifier": f"message-{b.number}"} for b in batches]}
        assert [b.number for b in await missing_batches(lake, plan, len(ids))] == [1, 2]
