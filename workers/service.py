"""The long-running service: the main job on a schedule, /healthz, /readyz and /metrics over HTTP.

Each tick runs the job ``config.toml`` describes, for the tick's UTC date; runs never
overlap, because the scheduler awaits one before it looks for the next tick. A failed
run is logged and counted and the service waits for the next tick: a container that
exits on the first TMDB outage would only be restarted into the same outage.

``/healthz`` says the process is alive; ``/readyz`` whether it can work (``workers.ready``:
the start-up checks, run in the background once the HTTP server answers, and the last
run). Runs, and a queue worker's consuming, wait for the checks to pass.

Shutdown (SIGTERM or SIGINT): stop taking work, let the run in progress finish the
batches it started for up to ``grace_s`` seconds, then cancel it; a second signal cancels
at once. The lake's writes are atomic (temporary name, then rename or a single PUT), so a
cancelled run leaves no half-written file, and the next run resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from dataclasses import replace
from typing import Any

import structlog
from aiohttp import web

from ingest.errors import ConfigError, IngestError
from ingest.queue.counters import QueueCounters
from ingest.reports.counts import RunReport
from ingest.run import checks as start_checks
from ingest.run.job import run_job
from ingest.settings.config import Settings
from ingest.stop import Stop
from workers.metrics import CONTENT_TYPE, Metrics, RunOutcome
from workers.ready import Readiness
from workers.schedule import Schedule

log = structlog.get_logger(__name__)

# The longest the scheduler sleeps in one go, so a changed wall clock (NTP step, a
# suspended VM) delays a tick by at most this much.
_MAX_NAP_S = 60.0


class Service:
    __slots__ = (
        "_last_run",
        "_loop",
        "_metrics",
        "_ready",
        "_schedule",
        "_settings",
        "_stop",
        "_stopping",
    )

    def __init__(self, settings: Settings, schedule: Schedule) -> None:
        self._settings = settings
        self._schedule = schedule
        self._metrics = Metrics(queue_mode=settings.service.queue)
        # The queue worker fetches from TMDB whatever the job says; the queue when it consumes.
        tmdb = settings.job.uses_tmdb or settings.service.queue
        checks = start_checks.checks(settings, tmdb=tmdb, queue=settings.service.queue)
        self._ready = Readiness(checks, recheck_s=settings.service.recheck_s)
        # Set once a shutdown signal arrives; nothing new starts after that.
        self._stopping = asyncio.Event()
        # The run in progress' Stop: asks its stages to start nothing new, and cancels
        # what is still running when the grace period runs out. None between runs.
        self._stop: Stop | None = None
        self._last_run: dict[str, Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        """Serve until a shutdown signal, then return once everything is closed."""
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, self.shutdown, sig.name)
        runner = web.AppRunner(self._app(), access_log=None)
        await runner.setup()
        svc = self._settings.service
        try:
            site = web.TCPSite(runner, svc.host, svc.port)
            try:
                await site.start()
            except OSError as exc:
                raise ConfigError(
                    f"cannot listen on {svc.host}:{svc.port} ({exc.strerror}): "
                    "choose a free port with --port, INGEST_PORT or [service] port in config.toml"
                ) from None
            log.info(
                "service_started",
                host=svc.host,
                port=svc.port,
                schedule=self._schedule.text,
                run_at_start=svc.run_at_start,
            )
            try:
                async with asyncio.TaskGroup() as tg:
                    watch = tg.create_task(self._ready.watch(self._stopping))
                    work = tg.create_task(self._consume() if svc.queue else self._scheduler())
                    # Once the work is over (a shutdown), a check still waiting on a
                    # stalled endpoint must not hold the exit.
                    work.add_done_callback(lambda _: watch.cancel())
            except BaseExceptionGroup as group:
                # Only the work can fail (the checks report, never raise): its error as such.
                raise group.exceptions[0] from None
        finally:
            await runner.cleanup()
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._loop.remove_signal_handler(sig)
        log.info("service_stopped", runs=dict(self._metrics.runs))

    def shutdown(self, reason: str = "shutdown") -> None:
        """Stop taking work; give the run in progress ``grace_s`` to finish, then cancel it."""
        if self._stopping.is_set():
            # A second signal: the operator is not willing to wait for the grace period.
            log.warning("shutdown_hurried", signal=reason)
            if self._stop is not None:
                self._stop.cut_in(0)
            return
        self._stopping.set()
        self._metrics.draining = True
        grace_s = self._settings.service.grace_s
        log.info(
            "shutdown_requested",
            signal=reason,
            grace_s=grace_s,
            # A queue worker holds its Stop while idle too: in progress means a batch in flight.
            run_in_progress=self._metrics.running,
        )
        if self._stop is not None:
            # The batches in flight may wait their turns at the rate for the whole grace.
            self._stop.request(reason.lower(), grace_s=grace_s)
            self._stop.cut_in(grace_s)

    async def _scheduler(self) -> None:
        first = self._settings.service.run_at_start
        while not self._stopping.is_set():
            now = dt.datetime.now(dt.UTC)
            tick = now if first else self._schedule.next_after(now)
            first = False
            self._metrics.next_run_ts = tick.timestamp()
            if tick > now:
                log.info("tick_scheduled", at=tick.isoformat())
                if await self._sleep_until(tick):
                    break
            self._metrics.next_run_ts = None
            if not await self._ready.wait(self._stopping):
                break
            await self._run_once(tick.date())

    async def _consume(self) -> None:
        """Fetch batches from the queue until a shutdown; the grace period bounds the drain."""
        from ingest.queue.consumer import QueueConsumer

        if not await self._ready.wait(self._stopping):
            return
        report = RunReport()
        stop = Stop()
        self._metrics.run_started(report)
        self._metrics.queue = counters = QueueCounters()
        outcome: RunOutcome = "stopped"
        try:
            self._stop = stop
            consumer = QueueConsumer(
                self._settings, report.tmdb, stop, self._stopping, counters, dependencies=self._ready
            )
            await stop.finish(consumer.run())
            if stop.cut:
                log.warning("queue_drain_cancelled", grace_s=self._settings.service.grace_s)
        except IngestError as exc:
            outcome = "failed"
            log.error("queue_consumer_failed", error=type(exc).__name__, message=str(exc))
            raise
        finally:
            self._stop = None
            self._metrics.run_finished(outcome)

    async def _sleep_until(self, when: dt.datetime) -> bool:
        """Sleep until ``when``; True if a shutdown cut the sleep short."""
        while not self._stopping.is_set():
            left_s = (when - dt.datetime.now(dt.UTC)).total_seconds()
            if left_s <= 0:
                return False
            try:
                async with asyncio.timeout(min(left_s, _MAX_NAP_S)):
                    await self._stopping.wait()
            except TimeoutError:
                pass
        return True

    async def _run_once(self, date: dt.date) -> None:
        report = RunReport()
        stop = Stop()
        settings = replace(self._settings, date=date)
        started = time.time()
        outcome: RunOutcome = "failed"
        error: str | None = None
        self._metrics.run_started(report)
        log.info("run_started", date=date.isoformat())
        try:
            self._stop = stop
            if self._stopping.is_set():
                stop.request("shutdown")
            await stop.finish(run_job(settings, stop=stop, report=report, entry="service"))
            outcome = "succeeded" if report.complete and not stop.cut else "stopped"
            if outcome == "succeeded":
                self._ready.run_ended(None)
            if stop.cut:
                log.warning("run_cancelled", date=date.isoformat(), grace_s=self._settings.service.grace_s)
        except IngestError as exc:
            error = type(exc).__name__
            self._ready.run_ended(exc)
            log.error("run_failed", date=date.isoformat(), error=error, message=str(exc))
        except Exception as exc:
            # The service outlives any one run: whatever broke, the next tick tries again.
            error = type(exc).__name__
            log.exception("run_failed", date=date.isoformat(), error=error)
        finally:
            self._stop = None
            self._metrics.run_finished(outcome, error=error)
        self._last_run = {
            "date": date.isoformat(),
            "started_at": _iso(started),
            "finished_at": _iso(time.time()),
            "outcome": outcome,
            "error": error,
            "stopped_because": report.stopped_because,
            "refresh": report.tmdb.refresh_mode,
            "movies_written": report.tmdb.written,
            "collections_written": report.tmdb.collections_written,
            "csv_files": len(report.csv),
        }
        log.info("run_finished", **self._last_run)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        return app

    async def _healthz(self, _request: web.Request) -> web.Response:
        m = self._metrics
        body = {
            # 503 while stopping, so a load balancer or orchestrator stops sending work.
            "status": "stopping" if self._stopping.is_set() else "ok",
            "schedule": self._schedule.text,
            "running": m.running,
            # A queue worker's own state: starting, idle, consuming or draining.
            **({"state": m.queue_state} if m.queue_state else {}),
            "next_run": _iso(m.next_run_ts) if m.next_run_ts else None,
            "last_run": self._last_run,
            "runs": dict(m.runs),
        }
        return web.json_response(body, status=503 if self._stopping.is_set() else 200)

    async def _readyz(self, _request: web.Request) -> web.Response:
        status, body = self._ready.answer(stopping=self._stopping.is_set())
        return web.json_response(body, status=status)

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")
