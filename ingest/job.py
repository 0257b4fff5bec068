"""One run of the pipeline, whatever started it (CLI, service tick, Lambda invocation).

``run_job`` checks its inputs before any work starts, so a usage error costs nothing (the
settings and the TMDB credentials were checked by ``ingest.startup`` when the process or
invocation started); then stage 1 (CSV files) and stage 2 (TMDB) run against one lake
opened for the run.
"""

from __future__ import annotations

import time

import structlog

from ingest.config import Settings
from ingest.csv.stage import check_inputs, run_csv, start_hashing
from ingest.errors import ConfigError
from ingest.lake import Lake, open_lake
from ingest.report import RunReport
from ingest.stop import Stop

log = structlog.get_logger(__name__)


def preflight(settings: Settings) -> None:
    """Raise a ``UsageError`` for anything that would stop the run, before it starts."""
    # Checked at every run, not once at start: a service's CSV file may come and go.
    check_inputs(settings.job.csv)
    if settings.job.enqueue and not settings.queue.url:
        raise ConfigError("--enqueue needs a queue: set INGEST_QUEUE_URL or [queue] url in config.toml")


async def run_job(
    settings: Settings,
    *,
    stop: Stop | None = None,
    report: RunReport | None = None,
    progress: bool = False,
) -> RunReport:
    """Run the job ``settings.job`` describes; return what it did.

    ``report`` may be passed in so a caller (the service's /metrics) can watch the counters
    move while the run goes on.
    """
    stop = stop or Stop()
    report = report if report is not None else RunReport()
    preflight(settings)
    started = time.monotonic()
    complete = True
    hashing = start_hashing(settings.job.csv)
    try:
        async with open_lake(settings.lake, settings.upload) as lake:
            if settings.job.csv:
                complete = await run_csv(
                    lake, settings, report, stop=stop, progress=progress, hashing=hashing
                )
            if settings.job.uses_tmdb:
                # Imported here so stage 1 alone never pays for the TMDB client's imports.
                from ingest.tmdb.crawl import run_tmdb

                if settings.job.enqueue:
                    from ingest.queue.enqueue import run_enqueue

                    complete = complete and await run_enqueue(lake, settings, report.tmdb, stop=stop)
                else:
                    complete = complete and await run_tmdb(
                        lake, settings, report.tmdb, stop=stop, progress=progress
                    )
            if settings.job.catalogue:
                complete = complete and await _catalogue(lake, settings, report, stop, progress)
    finally:
        report.seconds = round(time.monotonic() - started, 3)
    report.complete = complete
    report.stopped_because = None if complete else stop.reason
    return report


async def _catalogue(lake: Lake, settings: Settings, report: RunReport, stop: Stop, progress: bool) -> bool:
    """The whole catalogue of the day's ID export (``--catalogue``): fetched, or enqueued."""
    if settings.job.enqueue:
        from ingest.queue.catalogue import enqueue_catalogue

        return await enqueue_catalogue(lake, settings, report.tmdb, stop=stop)
    from ingest.tmdb.catalogue import run_catalogue

    return await run_catalogue(lake, settings, report.tmdb, stop=stop, progress=progress)
