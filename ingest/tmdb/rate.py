"""The client's request rate: never above ``--rate``, lower while TMDB keeps answering 429.

An ``aiolimiter.AsyncLimiter`` with room for just over one request paces requests evenly
at the current rate (a bigger bucket would let a burst through after any pause, and a
burst on top of a steady rate is exactly what a sliding-window limit refuses). The rate is cut
multiplicatively when 429s are *repeated* (several, and a real share of the recent
answers: a lone 429 among hundreds of good answers is noise, handled by the retry alone),
at most once a cooldown, never below ``floor``; it climbs back additively while answers
are good: fast up to just under the rate that drew the 429s, slowly past it, never above
the configured ceiling.

A rate change swaps in a fresh limiter; a request that was already waiting on the old one
queues again on the new one, so every request goes out through the current rate.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

import structlog
from aiolimiter import AsyncLimiter

from ingest.pacing import ROOM

log = structlog.get_logger(__name__)


class AdaptiveRate:
    __slots__ = (
        "_ceiling",
        "_clock",
        "_cut_from",
        "_floor",
        "_last_change",
        "_last_cut",
        "_limiter",
        "_rate",
        "_recent",
        "_recent_429",
    )

    # A cut multiplies the rate by this.
    CUT = 0.7
    # Seconds after a change before the next: answers to requests sent at the old rate
    # are still arriving for a moment and say nothing about the new one.
    COOLDOWN_S = 1.0
    # 429s in the recent window needed for a cut, as a count and as a share of answers.
    MIN_429 = 3
    MIN_429_SHARE = 0.15
    # Cuts closer together than this belong to one storm, which began at ``_cut_from``.
    STORM_GAP_S = 10.0

    def __init__(
        self, ceiling: float, *, floor: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ceiling = ceiling
        self._floor = min(floor, ceiling)
        self._clock = clock
        self._rate = ceiling
        self._limiter = _limiter_at(ceiling)
        # (when, was_429) for the answers of the recent window: what a cut is decided on.
        self._recent: collections.deque[tuple[float, bool]] = collections.deque()
        self._recent_429 = 0
        # When the rate last moved, for the cooldown.
        self._last_change = -1e9
        # The rate a storm of 429s began at: recovery slows down as it comes near it again.
        self._cut_from = ceiling
        self._last_cut = -1e9

    @property
    def rate(self) -> float:
        return self._rate

    async def acquire(self) -> None:
        """Wait for this request's turn at the current rate (call once per attempt)."""
        while True:
            limiter = self._limiter
            await limiter.acquire()
            if limiter is self._limiter:
                return

    def record(self, *, throttled: bool) -> None:
        """Tell the rate how TMDB answered: a 429 or not (errors that are not about rate
        are not recorded at all)."""
        now = self._clock()
        self._recent.append((now, throttled))
        self._recent_429 += throttled
        # At low rates a one-second window holds too few answers to judge; widen it.
        horizon = now - max(1.0, 10.0 / self._rate)
        while self._recent and self._recent[0][0] < horizon:
            self._recent_429 -= self._recent.popleft()[1]
        if now - self._last_change < self.COOLDOWN_S:
            return
        if throttled:
            if (
                self._recent_429 >= self.MIN_429
                and self._recent_429 >= self.MIN_429_SHARE * len(self._recent)
                and self._rate > self._floor
            ):
                if now - self._last_cut > self.STORM_GAP_S:
                    self._cut_from = self._rate
                self._last_cut = now
                self._set(max(self._floor, self._rate * self.CUT), now)
                log.warning(
                    "rate_lowered",
                    rate_per_s=round(self._rate, 2),
                    recent_429=self._recent_429,
                    recent_answers=len(self._recent),
                )
        elif self._rate < self._ceiling and self._recent_429 == 0:
            near = self._rate >= 0.9 * self._cut_from
            step = self._ceiling * (0.02 if near else 0.1)
            self._set(min(self._ceiling, self._rate + step), now)
            if self._rate >= self._ceiling:
                log.info("rate_recovered", rate_per_s=round(self._rate, 2))

    def _set(self, rate: float, now: float) -> None:
        self._rate = rate
        self._last_change = now
        self._limiter = _limiter_at(rate)


# A bucket of exactly one request loses each wake-up's lateness for good (the level is
# clamped at zero): ~1.3 ms of every 25 ms slot at 40/s, 95% of the rate (bench/). Room for
# 1.1 (``ingest.pacing.ROOM``) gives the lateness back while never admitting two at once.
# Leaky-bucket bound: at most ROOM + rate x T requests in any T seconds. Pacing 1% under
# the rate keeps that at 40 in any second at 40/s, the sliding window TMDB counts, even
# with a few ms of arrival jitter.
_UNDER = 0.99


def _limiter_at(rate: float) -> AsyncLimiter:
    return AsyncLimiter(ROOM, ROOM / (rate * _UNDER))
