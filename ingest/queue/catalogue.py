"""The catalogue on the queue: ``--catalogue --enqueue`` and the worker's step for its messages.

``enqueue_catalogue`` plans the day exactly as a one-shot run does, then sends one
message per batch the lake does not hold yet (about 11,000 for 1.1M movies), ten a
request, several requests at once; with ``collections``, the collection export's batches
too (they depend on no movie). A message is the genre's ``BatchMessage`` with the dataset
``catalogue``: it names the batch by number and size, and the worker reads the one plan
chunk that holds it (``ingest.tmdb.catalogue_plan``), never the whole plan.

Whether a batch is in the lake is asked of its own markers (one listing of a few keys and
one stat), and whether the whole plan is, in two levels: the worker that lands a batch
lists the markers of its hundred (batches ``100h .. 100h+99``, one listing); when all are
there it creates ``hundreds/HHH`` and lists those (one listing of at most 111 keys); when
every hundred is there the plan is complete and the cursor moves, as a one-shot run's
would. A worker killed between two steps leaves its message, which comes back, finds the
batch done and takes the steps again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog

from ingest.config import Settings
from ingest.lake import Lake
from ingest.lake.keys import CATALOGUE, tmdb_key
from ingest.queue.messages import BatchMessage
from ingest.queue.messages import BatchOutcome as Outcome
from ingest.queue.sqs import SqsQueue
from ingest.report import TmdbStats
from ingest.stop import Stop
from ingest.tmdb.catalogue import completed, missing, note_plan
from ingest.tmdb.catalogue_plan import CataloguePlan, batch_of, chunk_of, load_plan, read_chunk
from ingest.tmdb.catalogue_planner import plan_collections, plan_movies
from ingest.tmdb.client import ClientTuning, TmdbClient
from ingest.tmdb.markers import marker_key
from ingest.tmdb.plan import BATCH_SIZE, Batch, dataset_prefix
from ingest.tmdb.pool import BatchPool

log = structlog.get_logger(__name__)

# Messages a send task takes (ten SendMessageBatch requests), and send tasks at once.
_SEND_SLICE = 100
_SENDS_IN_FLIGHT = 8
_HUNDRED = 100


async def enqueue_catalogue(
    lake: Lake, settings: Settings, stats: TmdbStats, *, stop: Stop, tuning: ClientTuning | None = None
) -> bool:
    """Plan the catalogue (and its collections) and send every missing batch; True once sent."""
    assert settings.queue.url, "preflight refuses --enqueue without a queue"
    async with (
        SqsQueue.connect(settings.queue.url) as queue,
        TmdbClient(settings.tmdb, stats, tuning=tuning, stop=stop) as client,
    ):
        plans = [await plan_movies(lake, settings, client)]
        stats.planned += plans[0].count
        note_plan(stats, plans[0])
        if settings.job.collections:
            plans.append(await plan_collections(lake, settings))
            stats.collections_planned += plans[-1].count
        for plan in plans:
            if stop.requested:
                return False
            stats.batches_enqueued += await send_missing(lake, queue, plan)
    return True


async def send_missing(lake: Lake, queue: SqsQueue, plan: CataloguePlan) -> int:
    todo = await missing(lake, plan)
    facade = plan.facade()
    shape = (0,) * BATCH_SIZE
    last = plan.count - (plan.batch_count - 1) * BATCH_SIZE
    bodies = [
        BatchMessage.of(
            facade, Batch(n, shape if n < plan.batch_count else shape[:last]), plan.count, lake.url
        ).body()
        for n in todo
    ]
    await _send(queue, bodies)
    log.info(
        "batches_enqueued",
        kind=str(plan.kind),
        genre=CATALOGUE,
        plan_id=plan.plan_id,
        batches=len(bodies),
        already_in_lake=plan.batch_count - len(bodies),
    )
    return len(bodies)


async def _send(queue: SqsQueue, bodies: Sequence[str]) -> None:
    gate = asyncio.Semaphore(_SENDS_IN_FLIGHT)

    async def send(start: int) -> None:
        async with gate:
            await queue.send(bodies[start : start + _SEND_SLICE])

    async with asyncio.TaskGroup() as tg:
        for start in range(0, len(bodies), _SEND_SLICE):
            tg.create_task(send(start))


async def run_catalogue_message(
    lake: Lake, client: TmdbClient, stats: TmdbStats, stop: Stop, message: BatchMessage, *, concurrency: int
) -> Outcome:
    """The worker's step for one catalogue batch message; its outcome (``ingest.queue.work``)."""
    if stop.requested:
        return "stopped"
    plan = await load_plan(lake, message.date, message.kind)
    batch = None
    if plan is not None and plan.plan_id == message.plan_id and message.batch <= plan.batch_count:
        batch = batch_of(plan, await read_chunk(lake, plan, "ids", chunk_of(message.batch)), message.batch)
    if plan is None or batch is None or len(batch.ids) != message.size:
        log.warning("batch_message_stale", batch=message.name, plan_id=message.plan_id)
        return "stale"
    outcome: Outcome = "already_done"
    if await batch_done(lake, plan, batch):
        log.info("batch_already_done", batch=message.name)
    else:
        pool = BatchPool(lake, client, stats, stop, plan.facade(), workers=concurrency, progress=False)
        tally = await pool.run([batch])
        if tally.written_batches != 1:
            return "stopped" if tally.left_for_rerun and stop.requested else "failed"
        outcome = "written"
    if await _hundred_done(lake, plan, batch.number) and await _all_hundreds_done(lake, plan):
        await completed(lake, plan)
    return outcome


async def batch_done(lake: Lake, plan: CataloguePlan, batch: Batch) -> bool:
    """Whether ``batch`` has a marker of this plan and its first file: from one listing of
    the batch's own markers and one stat."""
    facade = plan.facade()
    # A marker's name up to its record count: ingest.tmdb.markers owns the format.
    stem = marker_key(facade, batch, 0, 0).rsplit("-w", 1)[0] + "-w"
    written = [k for k in await lake.list(stem) if k.endswith(f"-{plan.plan_id}.done")]
    if not written:
        return False
    if written[0].split("-w", 1)[1].startswith("0-"):
        return True
    return await lake.stat(tmdb_key(plan.kind, plan.date, CATALOGUE, batch.number)) is not None


def _hundreds_prefix(plan: CataloguePlan) -> str:
    return dataset_prefix(plan.date, plan.kind, CATALOGUE) + f"hundreds-{plan.plan_id}/"


async def _hundred_done(lake: Lake, plan: CataloguePlan, number: int) -> bool:
    hundred = number // _HUNDRED
    first, last = max(1, hundred * _HUNDRED), min(plan.batch_count, hundred * _HUNDRED + _HUNDRED - 1)
    done_prefix = marker_key(plan.facade(), Batch(number, ()), 0, 0).rsplit("/", 1)[0] + "/"
    keys = await lake.list(f"{done_prefix}{hundred:03d}")
    landed = {int(k.rsplit("/", 1)[1][:5]) for k in keys if k.endswith(f"-{plan.plan_id}.done")}
    if not all(n in landed for n in range(first, last + 1)):
        return False
    await lake.create(f"{_hundreds_prefix(plan)}{hundred:03d}", b"")
    return True


async def _all_hundreds_done(lake: Lake, plan: CataloguePlan) -> bool:
    keys = await lake.list(_hundreds_prefix(plan))
    return len(keys) == plan.batch_count // _HUNDRED + 1
