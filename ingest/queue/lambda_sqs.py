"""The Lambda handler's SQS side: an event source mapping hands it up to ten batch messages;
it fetches them (several at once, within the function's TMDB rate) and answers with the
ones that failed, for ``ReportBatchItemFailures``::

    {"batchItemFailures": [{"itemIdentifier": "<messageId>"}, ...]}

SQS deletes the others and hands the failed ones out again (and, after
``maxReceiveCount``, to the dead-letter queue). A batch already in the lake counts as
done; a batch not started before the invocation's reserve counts as failed, to come back,
and so does one still running when the invocation is about to end (it is cut, so that the
answer is sent before Lambda stops the function).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import structlog

from ingest.queue.messages import SETTLED
from ingest.queue.sqs import SqsQueue
from ingest.queue.work import BatchWorker, run_message
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Settings
from ingest.state import open_lake
from ingest.stop import Stop
from ingest.tmdb.client import TmdbClient

log = structlog.get_logger(__name__)


def is_sqs_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, Mapping) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records)
    )


async def run_records(
    settings: Settings, records: Sequence[Mapping[str, Any]], stop: Stop, *, cut_after_s: float | None = None
) -> dict[str, Any]:
    """Fetch every record's batch; answer with the message ids of those not settled, which
    includes any still running ``cut_after_s`` from now."""
    stats = TmdbStats()
    settled: set[str] = set()
    gate = asyncio.Semaphore(settings.queue.batches_in_flight)
    async with (
        open_lake(settings.lake, settings.upload) as lake,
        _queue(settings) as queue,
        TmdbClient(settings.tmdb, stats, stop=stop) as client,
    ):
        worker = BatchWorker(lake, client, stats, stop, concurrency=settings.tmdb.concurrency, queue=queue)

        async def one(record: Mapping[str, Any]) -> None:
            async with gate:
                if await _settled(worker, record):
                    settled.add(str(record.get("messageId")))

        async def every_record() -> None:
            async with asyncio.TaskGroup() as tg:
                for record in records:
                    tg.create_task(one(record))

        await stop.finish(every_record(), cut_after_s=cut_after_s)
        if stop.cut:
            log.warning(
                "sqs_records_cut", records=len(records), settled=len(settled), cut_after_s=cut_after_s
            )
    # In the order SQS sent them: the answer reads like the event.
    failed = [m for m in (str(r.get("messageId")) for r in records) if m not in settled]
    log.info("sqs_records_finished", records=len(records), failed=len(failed), written=stats.written)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}


async def _settled(worker: BatchWorker, record: Mapping[str, Any]) -> bool:
    """Whether the record's batch is in the lake now (or never will be: a stale plan)."""
    message_id = record.get("messageId")
    outcome = await run_message(
        worker, str(record.get("body", "")), None if message_id is None else str(message_id)
    )
    if outcome not in SETTLED:
        log.warning("batch_left_for_redelivery", message_id=message_id, outcome=outcome)
    return outcome in SETTLED


@contextlib.asynccontextmanager
async def _queue(settings: Settings) -> AsyncIterator[SqsQueue | None]:
    """The queue collection batches go to, when the function knows it (INGEST_QUEUE_URL)."""
    if not settings.queue.url:
        yield None
        return
    async with SqsQueue.connect(settings.queue.url) as queue:
        yield queue
