"""What every retry loop shares: how long to wait, and how retries show at INFO.

``Backoff`` is the one schedule for every remote (TMDB, S3, SQS): exponential, capped, with
"equal jitter" (half fixed, half random, so retries spread out but never come back at
once), and at least the server's own hint (``Retry-After``) when it gave one.
``RetrySummary`` turns retries into one ``requests_retried`` line at most every
``every_s`` seconds (counts by reason since the last line, and the last reason), instead
of a line per retry that would drown the log, or none at INFO at all.
"""

from __future__ import annotations

import collections
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 0.5
    cap_s: float = 30.0
    # A server hint longer than this is not waited out in full (a misbehaving proxy).
    hint_cap_s: float = 60.0

    def delay_s(self, attempt: int, rng: random.Random, hint_s: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        step = min(self.cap_s, self.base_s * 2.0 ** (attempt - 1))
        wait = step * (0.5 + 0.5 * rng.random())
        if hint_s is not None:
            hinted = min(self.hint_cap_s, hint_s)
            # Spread the hinted requests over a little time after the hinted instant.
            wait = max(wait, hinted + hinted * 0.2 * rng.random())
        return wait


class RetrySummary:
    """``note(reason, detail)`` per retry; a ``requests_retried`` line at most every
    ``every_s`` (the first retry is shown at once); ``flush()`` at the end of a run."""

    __slots__ = ("_by_reason", "_clock", "_every_s", "_last_detail", "_logged_at", "_remote")

    def __init__(
        self, remote: str, *, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._remote = remote
        self._every_s = every_s
        self._clock = clock
        # Retries since the last line, by short reason ("429", "503", "connection", ...).
        self._by_reason: collections.Counter[str] = collections.Counter()
        self._last_detail = ""
        # When the last line went out; far in the past so the first retry shows at once.
        self._logged_at = -1e9

    def note(self, reason: str, detail: str) -> None:
        self._by_reason[reason] += 1
        self._last_detail = detail
        if self._clock() - self._logged_at >= self._every_s:
            self.flush()

    def flush(self) -> None:
        if not self._by_reason:
            return
        log.info(
            "requests_retried",
            remote=self._remote,
            retries=sum(self._by_reason.values()),
            by_reason=dict(self._by_reason),
            last_reason=self._last_detail,
        )
        self._by_reason.clear()
        self._logged_at = self._clock()
