"""When to stop starting new work: a signal (SIGTERM), a deadline (Lambda), or neither.

Stages check ``stop.requested`` before they start a unit of work (a batch, a file) and
never in the middle of one, so whatever was started is finished and nothing is left
half-written. A wait that can last long (the rate limiter's next slot at ``--rate 0.001``)
runs under ``async with stop.interruptible():``: once a stop is requested such a wait
gets ``GRACE_S`` more (the service: its whole grace period, which bounds the drain anyway),
then it ends in ``Interrupted``, so a stop never waits for a slot minutes away.

What is in flight when the stop comes gets a bounded time to finish, then is cancelled:
``finish`` awaits the work and cancels it once its time is up (``cut_after_s``, or what
``cut_in`` says later: the service's grace period after a signal). The one copy of that
drain-then-cancel, for the service, the queue worker and the Lambda's two sides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from ingest.errors import Interrupted

T = TypeVar("T")


class Stop:
    __slots__ = (
        "_clock",
        "_cut_at",
        "_deadline",
        "_grace_s",
        "_reason",
        "_requested_at",
        "_waits",
        "_window",
        "cut",
    )

    # Seconds an interruptible wait may still take after a stop is requested.
    GRACE_S = 2.0

    def __init__(self, *, deadline: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        # A clock reading (of ``clock``) after which no new unit of work may start.
        self._deadline = deadline
        self._clock = clock
        # Why we stopped, once we have; None while work may go on.
        self._reason: str | None = None
        # The event loop's time of the request: the grace of interruptible waits counts from it.
        self._requested_at: float | None = None
        # The interruptible waits going on now, each under its own asyncio timeout.
        self._waits: set[asyncio.Timeout] = set()
        # The event loop's time at which the work ``finish`` awaits is cancelled (None: no
        # limit yet), and the timeout that does it while that work runs.
        self._cut_at: float | None = None
        self._window: asyncio.Timeout | None = None
        # True once ``finish`` cancelled its work: what was in flight did not make it.
        self.cut = False
        # What interruptible waits get after the request: ``GRACE_S``, or the service's
        # grace period, which then bounds the whole drain anyway (``cut_in``).
        self._grace_s = self.GRACE_S

    def request(self, reason: str = "requested", *, grace_s: float | None = None) -> None:
        """Start no new unit of work; waits under ``interruptible`` end ``grace_s`` from now
        (``GRACE_S`` unless said: a service that cuts at its grace period lets the batches in
        flight wait their turns at the rate until then)."""
        if grace_s is not None:
            self._grace_s = grace_s
        if self._reason is None:
            self._reason = reason
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:  # requested from outside the loop: no wait is going on
            return
        if self._requested_at is None:
            self._requested_at = now
        for timeout in self._waits:
            timeout.reschedule(self._requested_at + self._grace_s)

    @property
    def requested(self) -> bool:
        if self._reason is None and self._deadline is not None and self._clock() >= self._deadline:
            self._reason = "deadline"
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        return self._reason if self.requested else None

    @asynccontextmanager
    async def interruptible(self) -> AsyncIterator[None]:
        """Run the block; once a stop is requested, end it after its grace with ``Interrupted``."""
        when = None if self._requested_at is None else self._requested_at + self._grace_s
        timeout = asyncio.timeout_at(when)
        try:
            async with timeout:
                self._waits.add(timeout)
                try:
                    yield
                finally:
                    self._waits.discard(timeout)
        except TimeoutError:
            if not timeout.expired():
                raise
            raise Interrupted(f"stopped ({self._reason}) while waiting for the rate limiter") from None

    async def finish(self, work: Awaitable[T], *, cut_after_s: float | None = None) -> T | None:
        """Await ``work`` and return its result; cancel it once its time is up, set ``cut``
        and return None. Its time is up ``cut_after_s`` from now or when ``cut_in`` says,
        whichever comes first. A ``TimeoutError`` of the work's own goes through.

        Modelled on arq's ``Worker._wait_for_tasks_to_complete``: stop taking work
        (``request``), give what is in flight a bounded time, then cancel it. The lake's
        writes are atomic, so a cancelled batch leaves nothing half-written.
        """
        loop = asyncio.get_running_loop()
        if cut_after_s is not None:
            self._cut_at = _sooner(self._cut_at, loop.time() + cut_after_s)
        try:
            async with asyncio.timeout_at(self._cut_at) as window:
                self._window = window
                try:
                    return await work
                finally:
                    self._window = None
        except TimeoutError:
            if not window.expired():
                raise
            self.cut = True
            return None

    def cut_in(self, seconds: float) -> None:
        """Cancel the work ``finish`` awaits (now, or once it starts) ``seconds`` from now,
        unless an earlier cut is already due."""
        loop = asyncio.get_running_loop()
        self._cut_at = _sooner(self._cut_at, loop.time() + seconds)
        if self._window is not None:
            self._window.reschedule(self._cut_at)


def _sooner(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)
