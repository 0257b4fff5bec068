"""The catalogue on the queue: ``--catalogue --enqueue`` and the worker's step for its messages.

``enqueue_catalogue`` plans the day exactly as a one-shot run does, then sends one
message per batch the lake does not hold yet (about 11,000 for 1.1M movies), ten a
request, several requests at once; with ``collections``, the collection export's batches
too (they depend on no movie). A message is the genre's ``BatchMessage`` with the dataset
``catalogue``: it names the batch by number and size, and the worker reads the one plan
chunk that holds it (``ingest.state.catalogue_plan``), never the whole plan.

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

from ingest.lake import Lake
from ingest.queue.messages import BatchMessage
from ingest.queue.messages import BatchOutcome as Outcome
from ingest.queue.sqs import SqsQueue
from ingest.reports.counts import TmdbStats
from ingest.state.catalogue_plan import CataloguePlan, batch_of, chunk_of, load_plan, read_chunk
from ingest.state.completion import finish
from ingest.state.markers import all_hundreds_done, batch_done, hundred_done
from ingest.stop import Stop
from ingest.tmdb.catalogue import missing, note_plan
from ingest.tmdb.catalogue_planner import plan_collections, plan_movies
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.context import RunContext
from ingest.tmdb.media import SOURCES
from ingest.tmdb.pool import BatchPool

log = structlog.get_logger(__name__)

# Messages a send task takes (ten SendMessageBatch requests), and send tasks at once.
_SEND_SLICE = 100
_SENDS_IN_FLIGHT = 8


async def enqueue_catalogue(ctx: RunContext, queue: SqsQueue, client: TmdbClient) -> bool:
    """Plan the catalogue of each media asked (and the movies' collections) and send every
    missing batch; True once sent."""
    lake, settings, stats = ctx.lake, ctx.settings, ctx.stats
    plans = []
    for media in settings.job.catalogue_media:
        plans.append(await plan_movies(lake, settings, client, SOURCES[media]))
        stats.planned += plans[-1].count
        note_plan(stats, plans[-1])
    if settings.job.collections and "movies" in settings.job.catalogue_media:
        plans.append(await plan_collections(lake, settings))
        stats.collections_planned += plans[-1].count
    for plan in plans:
        if ctx.stop.requested:
            return False
        stats.batches_enqueued += await send_missing(lake, queue, plan)
    return True


async def send_missing(lake: Lake, queue: SqsQueue, plan: CataloguePlan) -> int:
    todo = set(await missing(lake, plan))
    bodies = [
        BatchMessage.of(plan, b, plan.count, lake.url).body() for b in plan.shapes() if b.number in todo
    ]
    await _send(queue, bodies)
    log.info(
        "batches_enqueued",
        kind=str(plan.kind),
        genre=plan.dataset.name,
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
        pool = BatchPool(lake, client, stats, stop, plan, workers=concurrency, progress=False)
        tally = await pool.run([batch])
        if tally.written_batches != 1:
            return "stopped" if tally.left_for_rerun and stop.requested else "failed"
        outcome = "written"
    if await hundred_done(lake, plan, batch.number, plan.batch_count) and await all_hundreds_done(
        lake, plan, plan.batch_count
    ):
        await finish(lake, plan, plan.refresh)
    return outcome
