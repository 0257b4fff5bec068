"""Whether TMDB answers at all: the client's breaker for a TMDB that is down or misnamed.

Retries are for answers that went wrong (429, 5xx, a dropped connection now and then).
A TMDB that cannot be reached at all is another matter, told apart here:

- before any answer of the run, a connection that cannot be made (refused, name not
  resolved) is configuration: ``TMDB_BASE_URL`` points nowhere; the client says so at once;
- after that, ``failures`` connection failures in a row (no answer between them) that have
  lasted ``after_s`` seconds mean TMDB went down: the breaker opens, no new request is
  sent, and requests waiting to retry give up at once. The run ends, and is resumed later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


class Reachability:
    __slots__ = ("_after_s", "_clock", "_failures", "_streak", "_streak_from", "answered", "down")

    def __init__(self, *, failures: int, after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._failures = failures
        self._after_s = after_s
        self._clock = clock
        # Whether any HTTP answer (of any status) came back in this run.
        self.answered = False
        # Connection failures since the last answer, and when the first of them happened.
        self._streak = 0
        self._streak_from = 0.0
        # Set once the breaker opens; waits for a retry wake on it.
        self.down = asyncio.Event()

    def note_answer(self) -> None:
        self.answered = True
        self._streak = 0

    def note_connection_failure(self, where: str, why: str) -> None:
        now = self._clock()
        if self._streak == 0:
            self._streak_from = now
        self._streak += 1
        lasted = now - self._streak_from
        if not self.down.is_set() and self._streak >= self._failures and lasted >= self._after_s:
            self.down.set()
            log.error(
                "tmdb_unreachable",
                url=where,
                failures_in_a_row=self._streak,
                seconds=round(lasted, 1),
                last_error=why,
            )

    def reset(self) -> None:
        """Close the breaker: TMDB answers again (a long-lived consumer's checks said so)."""
        self._streak = 0
        self.down.clear()

    @property
    def streak(self) -> int:
        return self._streak
