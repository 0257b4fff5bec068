"""One run of the pipeline, whatever started it (CLI, service tick, Lambda invocation).

``run_job`` checks its inputs before any work starts, so a usage error costs nothing (the
settings and the TMDB credentials were checked by ``ingest.run.start`` when the process or
invocation started); then stage 1 (CSV files) and stage 2 (TMDB) run against one lake
opened for the run.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from ingest.errors import ConfigError, IngestError
from ingest.lake import Lake
from ingest.reports.counts import RunReport
from ingest.run.checks import checked_lake
from ingest.settings.config import Settings
from ingest.state.runs import RunRequest, record_request
from ingest.stop import Stop

log = structlog.get_logger(__name__)


def check_job(settings: Settings) -> None:
    """Raise a ``UsageError`` for anything that would stop the run, before it starts."""
    # Checked at every run, not once at start: a service's CSV file may come and go.
    if settings.job.csv:
        # Imported here (and below): a run without CSV files never pays for stage 1.
        from ingest.csv.stage import check_inputs

        check_inputs(settings.job.csv)
    if settings.job.enqueue and not settings.queue.url:
        raise ConfigError("--enqueue needs a queue: set INGEST_QUEUE_URL or [queue] url in config.toml")


async def run_job(
    settings: Settings,
    *,
    stop: Stop | None = None,
    report: RunReport | None = None,
    progress: bool = False,
    entry: str = "cli",
) -> RunReport:
    """Run the job ``settings.job`` describes; return what it did.

    ``report`` may be passed in so a caller (the service's /metrics) can watch the counters
    move while the run goes on. ``entry`` (one of ``ingest.state.runs.ENTRIES``) is recorded with
    the run's request, so ``status`` can say how the date was made.
    """
    stop = stop or Stop()
    report = report if report is not None else RunReport()
    check_job(settings)
    # The lake, TMDB's answer to the credentials, the queue: a wrong setting is one line
    # now. The lake the check opened is the run's.
    tmdb = settings.job.uses_tmdb or settings.job.catalogue
    async with checked_lake(settings, tmdb=tmdb, queue=settings.job.enqueue) as lake:
        started = time.monotonic()
        try:
            report.lake = lake.url
            request = RunRequest.of(settings, entry)
            await record_request(lake, request)
            try:
                complete = await _stages(lake, settings, report, stop, progress)
            except BaseException as exc:
                # Whatever ends the run, its record says so in the contract's words: a
                # Ctrl-C (the loop cancels the run) stopped it, anything else failed it.
                # Only a kill records nothing: status shows the request as unfinished.
                await _record_end(lake, _ended(request, exc))
                raise
            outcome = (
                "enqueued" if complete and settings.job.enqueue else "complete" if complete else "stopped"
            )
            await _record_end(lake, request.ended(outcome))
        finally:
            report.seconds = round(time.monotonic() - started, 3)
    report.complete = complete
    report.stopped_because = None if complete else stop.reason
    return report


def _ended(request: RunRequest, exc: BaseException) -> RunRequest:
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
        return request.ended("stopped")
    return request.ended("failed", error=type(exc).__name__)


async def _record_end(lake: Lake, request: RunRequest) -> None:
    """Record how the run ended; a lake that fails now must not hide the run's own error."""
    try:
        await record_request(lake, request)
    except IngestError as exc:
        log.warning("run_outcome_not_recorded", outcome=request.outcome, error=str(exc))


async def _stages(
    lake: Lake,
    settings: Settings,
    report: RunReport,
    stop: Stop,
    progress: bool,
) -> bool:
    complete = True
    if settings.job.csv:
        from ingest.csv.stage import run_csv

        complete = await run_csv(lake, settings, report, stop=stop, progress=progress)
    if not (settings.job.uses_tmdb or settings.job.catalogue):
        return complete
    # Imported here so stage 1 alone never pays for the TMDB client's imports.
    from ingest.tmdb.context import RunContext

    ctx = RunContext(lake, settings, report.tmdb, stop, progress)
    if settings.job.enqueue:
        from ingest.queue.enqueue import run_enqueue

        report.enqueued = True
        return complete and await run_enqueue(ctx)
    from ingest.tmdb.stage import run_stage

    return complete and await run_stage(ctx)
