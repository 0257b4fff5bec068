"""What ``/readyz`` answers: whether the service can do its work, with the reason when not.

``/healthz`` is liveness: the process answers (503 only while it stops), so a container
platform restarts it only when it hangs. ``/readyz`` (the Kubernetes convention) is
readiness, 503 with ``{"status": "not_ready", "check": ..., "reason": ...}``:

- until the start-up checks (``ingest.run.checks``: the lake, TMDB's answer to the
  credentials, the queue when one is configured) have passed. They run in the background,
  so ``/healthz`` answers from the first moment, and again every ``recheck_s`` while one
  fails, so a bucket created or a TMDB back up makes the service ready without a restart;
- while the last run failed on something a restart will not fix (a ``UsageError``: a
  setting, a missing bucket, a refused token), until a run succeeds. A failure that a
  rerun may not meet again (an outage, a throttled TMDB) leaves readiness as it was;
- while the service stops.

Runs wait for the checks to pass: a run now would only fail on the same thing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from ingest.errors import IngestError, UsageError
from ingest.reports.logs import mask_secrets
from ingest.run.checks import Check

log = structlog.get_logger(__name__)

# A check that has not answered in this long has failed (a stalled endpoint).
CHECK_TIMEOUT_S = 120.0


class Readiness:
    __slots__ = ("_checks", "_problem", "_recheck_s", "_run_failure", "passed")

    def __init__(self, checks: list[Check], *, recheck_s: float) -> None:
        self._checks = checks
        self._recheck_s = recheck_s
        # Set once every start-up check has passed; runs wait for it.
        self.passed = asyncio.Event()
        # The check that failed last and its one line; None once they all passed.
        self._problem: tuple[str, str] | None = ("starting", "the start-up checks have not finished yet")
        # The error class and line of the last run, when it failed on a setting.
        self._run_failure: tuple[str, str] | None = None

    async def watch(self, stopping: asyncio.Event) -> None:
        """Run the checks until they all pass (again every ``recheck_s`` while one fails)."""
        while not stopping.is_set():
            self._problem = await self._check_once()
            if self._problem is None:
                self.passed.set()
                log.info("service_ready", checks=[name for name, _ in self._checks])
                return
            check, reason = self._problem
            log.warning("service_not_ready", check=check, reason=reason, recheck_s=self._recheck_s)
            try:
                async with asyncio.timeout(self._recheck_s):
                    await stopping.wait()
            except TimeoutError:
                pass

    async def wait(self, stopping: asyncio.Event) -> bool:
        """Wait until the checks pass (True) or the service stops (False)."""
        if not self.passed.is_set():
            async with asyncio.TaskGroup() as tg:
                passed = tg.create_task(self.passed.wait())
                stop = tg.create_task(stopping.wait())
                # Whichever comes first ends the other.
                passed.add_done_callback(lambda _: stop.cancel())
                stop.add_done_callback(lambda _: passed.cancel())
        return self.passed.is_set() and not stopping.is_set()

    async def lost(self) -> str | None:
        """Check again now (a queue worker's batch failed): the first failing check's line,
        and the service not ready until ``regained``; None when every check passes."""
        problem = await self._check_once()
        if problem is None:
            return None
        self.passed.clear()
        self._problem = problem
        check, reason = problem
        log.warning("service_not_ready", check=check, reason=reason, recheck_s=self._recheck_s)
        return f"{check}: {reason}"

    async def regained(self, stopping: asyncio.Event) -> bool:
        """Recheck every ``recheck_s`` until the checks pass (True) or the service stops."""
        await self.watch(stopping)
        return self.passed.is_set() and not stopping.is_set()

    def run_ended(self, error: BaseException | None) -> None:
        """Note how a run ended: None (it succeeded) clears a failure on a setting."""
        if error is None:
            self._run_failure = None
        elif isinstance(error, UsageError):
            self._run_failure = (type(error).__name__, mask_secrets(str(error)))

    def answer(self, *, stopping: bool) -> tuple[int, dict[str, Any]]:
        """The status and JSON body of ``/readyz``."""
        if stopping:
            return 503, {"status": "stopping", "reason": "the service is shutting down"}
        if self._problem is not None:
            check, reason = self._problem
            return 503, {"status": "not_ready", "check": check, "reason": reason}
        if self._run_failure is not None:
            error, reason = self._run_failure
            return 503, {"status": "not_ready", "check": "last_run", "error": error, "reason": reason}
        return 200, {"status": "ready", "checks": [name for name, _ in self._checks]}

    async def _check_once(self) -> tuple[str, str] | None:
        for name, check in self._checks:
            try:
                async with asyncio.timeout(CHECK_TIMEOUT_S):
                    await check()
            except IngestError as exc:
                return name, mask_secrets(str(exc))
            except TimeoutError:
                return name, f"no answer within {CHECK_TIMEOUT_S:g} s"
            except Exception as exc:  # a check never ends the service: it says what broke
                return name, mask_secrets(f"{type(exc).__name__}: {exc}")[:300]
        return None
