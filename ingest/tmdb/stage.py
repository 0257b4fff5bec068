"""Stage 2: TMDB -> lake, one runner for every dataset a run selects.

A run's context is one value (``RunContext``: the lake, the settings, the run's TMDB
counts, the stop, whether to draw progress). The stage opens the run's one TMDB client
(one rate, one connection cap for everything it fetches), runs each selected dataset's
part in turn (``DatasetRun``: a genre's movies and collections, ``ingest.tmdb.crawl``; the
whole catalogue, ``ingest.tmdb.catalogue``) and has the one error path of the stage:

- a stop (SIGTERM, Ctrl-C) lets started batches finish and starts nothing new; one that
  cuts a wait for the rate limiter short ends the stage as stopped (``Interrupted``);
- a TaskGroup's failure re-raises the error that explains it best (``raise_primary``);
- a TMDB that stops answering ends the stage with ``UnreachableError`` (nothing new starts);
- batches that failed after their retries end it with ``RunError`` once the rest has run,
  and the rerun fetches only what is missing.
"""

from __future__ import annotations

import time

import structlog

from ingest.errors import Interrupted, RunError, raise_primary
from ingest.lake import Lake
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Settings
from ingest.stop import Stop
from ingest.tmdb.client import ClientTuning, TmdbClient
from ingest.tmdb.context import DatasetRun, RunContext
from ingest.tmdb.crawl import GenreRun
from ingest.tmdb.media import SERIES_SOURCE, SOURCES

log = structlog.get_logger(__name__)


def dataset_runs(settings: Settings) -> list[DatasetRun]:
    """The parts a run's settings select, in order: the genres, then the catalogue."""
    job = settings.job
    runs: list[DatasetRun] = [GenreRun(g) for g in job.movie_genres]
    runs += [GenreRun(g, SERIES_SOURCE) for g in job.series_genres]
    if job.catalogue_media:
        # Imported here: a genre run never pays for the catalogue's planner and exports.
        from ingest.tmdb.catalogue import CatalogueRun

        runs += [CatalogueRun(SOURCES[media]) for media in job.catalogue_media]
    return runs


async def run_stage(ctx: RunContext) -> bool:
    """Fetch every dataset the settings select; return True when every planned batch of
    each is in the lake.

    Raises ``AuthError`` on a 401, ``ConfigError`` when TMDB cannot be reached at all from
    the start, ``UnreachableError`` when it stops answering mid-run, ``RunError`` when
    batches failed after their retries (after the rest of the run has gone on),
    ``LakeError`` when the lake refuses a write.
    """
    runs = dataset_runs(ctx.settings)
    if not runs:
        return True
    try:
        return await _run(ctx, runs)
    except Interrupted as exc:
        # A stop cut a wait for the rate limiter short: the run ends as stopped.
        log.info("tmdb_stage_interrupted", why=str(exc))
        return False


async def run_tmdb(
    lake: Lake,
    settings: Settings,
    stats: TmdbStats,
    *,
    stop: Stop,
    progress: bool,
    tuning: ClientTuning | None = None,
) -> bool:
    """``run_stage`` with its context given piece by piece."""
    return await run_stage(RunContext(lake, settings, stats, stop, progress, tuning))


async def _run(ctx: RunContext, runs: list[DatasetRun]) -> bool:
    started = time.monotonic()
    failures: list[str] = []
    complete = True
    try:
        async with TmdbClient(ctx.settings.tmdb, ctx.stats, tuning=ctx.tuning, stop=ctx.stop) as client:
            for part in runs:
                if ctx.stop.requested or client.unreachable:
                    complete = False
                    break
                done, failed = await part.run(ctx, client)
                failures += failed
                complete = complete and done
            _summarise(ctx.stats, client, time.monotonic() - started)
            if client.unreachable:
                raise client.unreachable_error()
    except BaseExceptionGroup as group:
        raise_primary(group)
    if failures:
        raise RunError("; ".join(failures))
    return complete and not ctx.stop.requested


def _summarise(stats: TmdbStats, client: TmdbClient, seconds: float) -> None:
    records = stats.written + stats.collections_written + stats.series_written
    log.info(
        "tmdb_stage_finished",
        planned=stats.planned,
        written=stats.written,
        series_written=stats.series_written,
        skipped=stats.skipped,
        failed=stats.failed,
        oversized=stats.oversized,
        collections_planned=stats.collections_planned,
        collections_written=stats.collections_written,
        files=stats.files,
        bytes=stats.bytes,
        requests=stats.requests,
        logical_requests=client.first_attempts,
        retries=stats.retries,
        throttled=stats.throttled,
        seconds=round(seconds, 3),
        movies_per_s=round(stats.written / seconds, 2) if seconds > 0 else None,
        attempts_per_record=round(stats.requests / records, 4) if records else None,
        logical_requests_per_record=round(client.first_attempts / records, 4) if records else None,
        rate_per_s=round(client.rate_per_s, 2),
        **stats.refresh_summary(),
    )
