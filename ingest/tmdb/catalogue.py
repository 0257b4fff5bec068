"""The catalogue's part of stage 2 (``python -m ingest --catalogue``): every movie of TMDB's
daily ID export, TMDB -> lake.

Plan (``ingest.tmdb.catalogue_planner``: the day's export, or the increment since the
last complete snapshot), then fetch the batches the lake does not hold yet through the
genre crawl's pool and sink, one pool for the whole pass, fed one chunk of the plan (100
batches) at a time as it needs them: details and keywords in one request a movie,
``Raw/TMDB/JSON/Movies/YYYY/MM/DD/catalogue-NNNNNN.json`` (at most 100 records a file),
a done-marker after each batch. Which batches are in the lake is read from two listings
(markers, files), never one read per batch. Only one chunk's ids are in memory at a time,
so memory stays flat over the whole pass.

With ``collections``, every collection of the day's collection export follows, into
``Raw/TMDB/JSON/Collections/YYYY/MM/DD/catalogue-NNNNNN.json``. Once every batch of a plan
is in the lake its cursor moves to the date: the next day's run diffs against it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import structlog

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Settings
from ingest.state.catalogue_plan import CataloguePlan, batches_of_chunk, chunk_of
from ingest.state.completion import finish
from ingest.state.markers import batches_in_lake
from ingest.state.plan import Batch
from ingest.stop import Stop
from ingest.tmdb.catalogue_planner import plan_collections, plan_movies
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.context import RunContext
from ingest.tmdb.media import MOVIE_SOURCE, Source
from ingest.tmdb.pool import BatchPool
from ingest.tmdb.sink import FetchTally

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CatalogueRun:
    """The whole catalogue's part of the stage (``ingest.tmdb.stage.DatasetRun``): its
    movies (or TV series), then, for movies with ``collections``, the collection export's
    collections."""

    source: Source = MOVIE_SOURCE

    async def run(self, ctx: RunContext, client: TmdbClient) -> tuple[bool, list[str]]:
        failures: list[str] = []

        async def records(lake: Lake, settings: Settings, client: TmdbClient) -> CataloguePlan:
            return await plan_movies(lake, settings, client, self.source)

        complete = await _dataset(ctx, client, failures, records)
        wants = ctx.settings.job.collections and self.source.has_collections
        if wants and not ctx.stop.requested and not client.unreachable:

            async def collections(lake: Lake, settings: Settings, _: TmdbClient) -> CataloguePlan:
                return await plan_collections(lake, settings)

            complete &= await _dataset(ctx, client, failures, collections)
        return complete, failures


Planning = Callable[[Lake, Settings, TmdbClient], Awaitable[CataloguePlan]]


async def _dataset(ctx: RunContext, client: TmdbClient, failures: list[str], planning: Planning) -> bool:
    lake, stats = ctx.lake, ctx.stats
    plan = await planning(lake, ctx.settings, client)
    if plan.kind.primary:
        stats.planned += plan.count
        note_plan(stats, plan)
    else:
        stats.collections_planned += plan.count
    todo = await missing(lake, plan)
    tally = await fetch(lake, client, stats, ctx.stop, plan, todo, workers=ctx.settings.tmdb.concurrency)
    failures += tally.failures(plan.dataset.name, str(plan.kind))
    done = tally.failed_batches == 0 and tally.left_for_rerun == 0
    if done:
        await finish(lake, plan, plan.refresh)
    return done


async def missing(lake: Lake, plan: CataloguePlan) -> list[int]:
    """The numbers of the plan's batches not in the lake, from two listings."""
    done = await batches_in_lake(lake, plan, plan.shapes())
    todo = [n for n in range(1, plan.batch_count + 1) if n not in done]
    log.info(
        "batches_planned",
        kind=str(plan.kind),
        genre=plan.dataset.name,
        ids=plan.count,
        batches=plan.batch_count,
        already_in_lake=len(done),
        to_fetch=len(todo),
    )
    return todo


async def fetch(
    lake: Lake,
    client: TmdbClient,
    stats: TmdbStats,
    stop: Stop,
    plan: CataloguePlan,
    todo: list[int],
    *,
    workers: int,
) -> FetchTally:
    """Fetch batches ``todo`` of ``plan`` through one pool: the chunks are read one at a
    time as the pool needs them, and the pool never drains between them (no idle tail
    per chunk). It stops feeding between batches on a stop, an unreachable TMDB or too
    many failed batches, counting what it did not feed as left for the rerun."""
    wanted = set(todo)
    chunks = sorted({chunk_of(n) for n in todo})
    started = time.monotonic()
    pool = BatchPool(lake, client, stats, stop, plan, workers=workers, progress=False)

    async def batches() -> AsyncIterator[Batch]:
        for i, chunk in enumerate(chunks):
            if i:
                seconds = max(time.monotonic() - started, 1e-6)
                log.info(
                    "chunk_started",
                    kind=str(plan.kind),
                    genre=plan.dataset.name,
                    chunk=chunk,
                    chunks_left=len(chunks) - i,
                    records=pool.tally.records,
                    records_per_s=round(pool.tally.records / seconds, 1),
                )
            for batch in await batches_of_chunk(lake, plan, chunk, wanted):
                yield batch

    return await pool.run(batches(), batches=len(todo))


def note_plan(stats: TmdbStats, plan: CataloguePlan) -> None:
    """The catalogue's refresh in the run's summary, beside the genres'."""
    # ``catalogue`` for the movies (as it always was), ``catalogue series`` for the series.
    name = plan.dataset.name if plan.kind is Kind.MOVIES else plan.dataset.label
    stats.refresh[name] = plan.refresh
    increment = plan.increment or {}
    if increment:
        stats.windows[name] = f"{increment['since']}..{plan.date.isoformat()}"
        stats.changed += int(increment.get("changed", 0))
        stats.new += int(increment.get("new", 0))
        stats.removed += int(increment.get("removed", 0))
    stats.full_run_requests += plan.members
