"""``python -m ingest ... --enqueue``: plan each selected genre exactly as a one-shot run does,
then send one message per batch the lake does not hold yet, instead of fetching it.

With collections asked for, a genre whose movie batches are all in the lake already gets
its collection plan frozen and its collection batches sent; otherwise the movie messages
carry ``then_collections`` and the worker that lands the genre's last movie batch does
that (``ingest.queue.work``). Sending again what is queued already is harmless: a worker
that receives a batch already in the lake deletes the message and goes on.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from ingest.lake import Lake
from ingest.queue.messages import BatchMessage
from ingest.queue.sqs import SqsQueue
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Settings
from ingest.settings.genres import Genre
from ingest.state.completion import finish, whole_run
from ingest.state.markers import missing_batches
from ingest.state.plan import Plan
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.context import RunContext
from ingest.tmdb.media import MOVIE_SOURCE, SERIES_SOURCE, Source
from ingest.tmdb.planner import GenrePlanner

log = structlog.get_logger(__name__)


async def run_enqueue(ctx: RunContext) -> bool:
    """Plan and send the missing batches of every selected dataset (the genres', then the
    whole catalogue's); True once all are sent."""
    lake, settings, stats, stop = ctx.lake, ctx.settings, ctx.stats, ctx.stop
    assert settings.queue.url, "the job checks refuse --enqueue without a queue"
    async with (
        SqsQueue.connect(settings.queue.url) as queue,
        TmdbClient(settings.tmdb, stats, tuning=ctx.tuning, stop=stop) as client,
    ):
        planner = GenrePlanner(
            lake, settings.date, settings.job, client, stats, progress=False, append=settings.tmdb.append
        )
        for genre in settings.job.movie_genres:
            if stop.requested:
                return False
            stats.batches_enqueued += await enqueue_genre(lake, planner, queue, genre, settings, stats)
        for genre in settings.job.series_genres:
            if stop.requested:
                return False
            stats.batches_enqueued += await enqueue_genre(
                lake, planner, queue, genre, settings, stats, SERIES_SOURCE
            )
        if settings.job.catalogue:
            # Imported here: a genre's enqueue never pays for the catalogue's planner.
            from ingest.queue.catalogue import enqueue_catalogue

            return await enqueue_catalogue(ctx, queue, client)
    return True


async def enqueue_genre(
    lake: Lake,
    planner: GenrePlanner,
    queue: SqsQueue,
    genre: Genre,
    settings: Settings,
    stats: TmdbStats,
    source: Source = MOVIE_SOURCE,
) -> int:
    """Send the genre's missing movie (or series) batches (or, when none is missing and
    collections are asked for, its missing collection batches); return how many were sent."""
    collections = settings.job.collections and source.has_collections
    plan = await planner.movies(genre, source)
    target = plan.target(settings.job.limit)
    stats.planned += target
    todo = await missing_batches(lake, plan, target)
    if todo:
        messages = [BatchMessage.of(plan, b, target, lake.url, then_collections=collections) for b in todo]
        return await _send(queue, plan, messages, len(plan.batches(target)))
    # Nothing to send: no worker will land a last batch and take the completion step.
    await _complete_at_once(lake, plan, plan, whole=settings.job.limit is None and whole_run(plan, target))
    if not collections:
        log.info("batches_enqueued", kind=plan.kind, genre=plan.genre, plan_id=plan.plan_id, batches=0)
        return 0
    return await enqueue_collections(lake, planner, queue, genre, plan, target, stats)


async def enqueue_collections(
    lake: Lake,
    planner: GenrePlanner,
    queue: SqsQueue,
    genre: Genre,
    movies: Plan,
    target: int,
    stats: TmdbStats | None = None,
) -> int:
    """Freeze the genre's collection plan (every movie batch is in the lake) and send its
    missing batches."""
    plan = await planner.collections(genre, movies, target, {})
    if stats is not None:
        stats.collections_planned += len(plan.ids)
    todo = await missing_batches(lake, plan, len(plan.ids))
    if not todo:
        await _complete_at_once(lake, movies, plan, whole=whole_run(movies, target))
    messages = [BatchMessage.of(plan, b, len(plan.ids), lake.url) for b in todo]
    return await _send(queue, plan, messages, len(plan.batches(len(plan.ids))))


async def _complete_at_once(lake: Lake, movies: Plan, plan: Plan, *, whole: bool) -> None:
    """``plan`` has no batch left to send (none at all, or all in the lake): take the
    step the worker landing its last batch would (an empty plan has none)."""
    if whole:
        await finish(lake, plan, movies.refresh)


async def _send(queue: SqsQueue, plan: Plan, messages: Sequence[BatchMessage], batches: int) -> int:
    sent = await queue.send([m.body() for m in messages])
    log.info(
        "batches_enqueued",
        kind=plan.kind,
        genre=plan.genre,
        plan_id=plan.plan_id,
        batches=sent,
        already_in_lake=batches - sent,
    )
    return sent
