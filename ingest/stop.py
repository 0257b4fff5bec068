"""When to stop starting new work: a signal (SIGTERM), a deadline (Lambda), or neither.

Stages check ``stop.requested`` before they start a unit of work (a batch, a file) and
never in the middle of one, so whatever was started is finished and nothing is left
half-written.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Stop:
    __slots__ = ("_clock", "_deadline", "_reason")

    def __init__(self, *, deadline: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        # A clock reading (of ``clock``) after which no new unit of work may start.
        self._deadline = deadline
        self._clock = clock
        # Why we stopped, once we have; None while work may go on.
        self._reason: str | None = None

    def request(self, reason: str = "requested") -> None:
        if self._reason is None:
            self._reason = reason

    @property
    def requested(self) -> bool:
        if self._reason is None and self._deadline is not None and self._clock() >= self._deadline:
            self._reason = "deadline"
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        return self._reason if self.requested else None

    def remaining_s(self) -> float | None:
        """Seconds until the deadline, or None when there is none."""
        return None if self._deadline is None else self._deadline - self._clock()
