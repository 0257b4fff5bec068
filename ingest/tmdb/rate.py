"""The client's request rate: never above ``--rate``, lower while TMDB keeps answering 429.

TMDB counts requests over a sliding second, and so does the limiter (``SlidingWindow``): at
most ``ceil(rate)`` requests in any window of (at least) a second and a margin, a log of when the
last ones went out. So the burst TMDB grants after a pause is spent (40 at once when the
last second was idle), and a pause shorter than the window costs nothing: the window's
unused room is there to catch up. A request's time in the log is when its headers were
written, not when the limiter let it go: a client whose event loop is busy between the
two (JSON, S3 signing) would otherwise send requests later than the log says, and the
next window would start too early. The margin (``MARGIN_S``) covers the server's own
delay before it counts a request. The rate is cut
multiplicatively when 429s are *repeated* (several, and a real share of the recent
answers: a lone 429 among hundreds of good answers is noise, handled by the retry alone),
at most once a cooldown, never below ``floor``; it climbs back additively while answers
are good: fast up to just under the rate that drew the 429s, slowly past it, never above
the configured ceiling.

A rate change keeps the log: the new rate applies to the requests already sent, so a cut
never lets a fresh burst through, and a request already waiting recomputes its turn.
"""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Callable

import structlog

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
        self,
        ceiling: float,
        *,
        floor: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        shared: str | None = None,
    ) -> None:
        """``shared``: the TMDB these requests go to; every rate of the process with the
        same one counts in one window (``shared_log``)."""
        self._ceiling = ceiling
        self._floor = min(floor, ceiling)
        self._clock = clock
        self._rate = ceiling
        log = None if shared is None else shared_log(shared)
        self._limiter = SlidingWindow(ceiling, clock=clock, log=log)
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

    async def acquire(self) -> Sent:
        """Wait for this request's turn at the current rate (call once per attempt); pass
        what it returns to ``sent`` once the request's headers are written."""
        return await self._limiter.acquire()

    def sent(self, ticket: Sent) -> None:
        """The request of ``ticket`` is on the wire now: it counts in the window from now."""
        self._limiter.sent(ticket)

    def done(self, ticket: Sent) -> None:
        """The attempt of ``ticket`` is over, whether or not its headers went out."""
        self._limiter.done(ticket)

    def record(self, *, throttled: bool) -> None:
        """Tell the rate how TMDB answered: a 429 or not (errors that are not about rate
        are not recorded at all)."""
        now = self._clock()
        if throttled:
            self._limiter.widen()
        else:
            self._limiter.settle()
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
        self._limiter.set_rate(rate)


class WindowLog(collections.deque["Sent"]):
    """The requests of the last window, oldest first, and how long the widest window that
    reads it needs them kept (``keep_s``): windows of different rates or margins may share
    one log, and each trims it, so none may trim what a wider one still counts."""

    keep_s = 0.0


# TMDB counts every request from one IP in one window: the start-up check's and the run's
# alike. So every client of a process that talks to one TMDB shares one log.
_LOGS: dict[str, WindowLog] = {}


def shared_log(key: str) -> WindowLog:
    return _LOGS.setdefault(key, WindowLog())


class Sent:
    """One request's place in the window: when it went out (as far as the client knows),
    and whether that is final (its headers are written, or it never got that far); ``due``:
    when the window let it go, if it had to wait for that (None: it went at once)."""

    __slots__ = ("at", "due", "final")

    def __init__(self, at: float, due: float | None = None) -> None:
        self.at = at
        self.due = due
        self.final = False


class SlidingWindow:
    """At most ``count`` requests in any ``window_s``: ``count`` = ``ceil(rate)`` and
    ``window_s`` = ``count / rate`` seconds (at least one) and a margin, counted
    as the server counts them: a log of the requests of the last window, by when they went
    out; the next goes when fewer than ``count`` are left in it. Waiters go in turn (first
    come, first served).

    Bound: no ``count + 1`` requests went out within ``window_s`` of each other on the
    client's clock, so TMDB's sliding second never holds more than ``count`` unless the
    server counted a request more than the margin later, relative to another, than it
    went out. A request's time can move later after the next ones were let go (its
    headers written late), so the log is kept by time, not by turn.

    Lead: between the moment the window lets a waiting request go and its headers going
    out, there is always some delay (the sleep's wake-up, rounded up to the millisecond,
    and the HTTP client's work before it writes): about 2 ms, which would otherwise come
    on top of the margin in every window, 59 times in a minute's crawl. The window lets a
    waiting request go that much early (``lead_s``): the least delay among the last
    ``LEAD_SAMPLES`` waiting requests, never more than ``MAX_LEAD_S``. A request whose
    delay is at least that least one still goes out no earlier than the window allows; one
    quicker than all of the recent ones goes out early by the difference, at most the lead
    (3 ms, of a margin of 8 ms or more).
    """

    # The server's own delay before it counts a request (its event loop, the kernel), as
    # it varies from one request to another: what the window allows for on top of the
    # second. It grows with how many requests the server counts: ``MARGIN_S`` at least,
    # ``MARGIN_PER_RATE_S`` for each request a second of the window's first rate (its
    # ceiling), so 8 ms at TMDB's 40/s and 10 ms at the catalogue bench's 1,000/s. A run's
    # first ``WARM_WINDOWS`` windows keep ``WARM_MARGIN_S``: its connections are being
    # opened and the plan's pages come in bursts, and a server counts later then. Measured
    # on the stand-in, 2,268-movie crawls at 40/s on a quiet machine (bench/DLT_PEER.md):
    # the delay of a request's count less that of the one a window before it was under
    # 2-3.6 ms for 99% of the pairs, up to 12 ms in the first four windows, and a few
    # times a run 6-17 ms later on (the server's loop, or the machine, busy for that
    # long): no margin a crawl can afford covers those, so a 429 widens the margin by
    # ``WIDEN_S`` (a server that counts later than that, under load), up to
    # ``MAX_MARGIN_S``, and it narrows back by as much after each ``NARROW_AFTER_S``
    # without one. At 1,000/s, 8 ms drew 3 429s in 5,711 requests and 10 ms none.
    MARGIN_S = 0.008
    MARGIN_PER_RATE_S = 0.00001
    WARM_WINDOWS = 4
    WARM_MARGIN_S = 0.012
    # Even into an empty window, requests go at most this many times the rate (at 40/s,
    # one each 2.5 ms): a burst reaches the server spread out, not 20 at once to be counted
    # one after another, later and later, while the next window's go one by one.
    BURST = 10.0
    WIDEN_S = 0.005
    MAX_MARGIN_S = 0.05
    NARROW_AFTER_S = 10.0
    # The lead: the least delay among this many recent waiting requests, and its cap.
    LEAD_SAMPLES = 64
    MAX_LEAD_S = 0.003

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        log: WindowLog | None = None,
    ) -> None:
        self._clock = clock
        self._log = WindowLog() if log is None else log
        self._turn = asyncio.Lock()
        self._rate = rate
        self._last = -1e9
        self._widened = -1e9
        # The margin without a 429 (see ``MARGIN_S``), from the rate the window starts at:
        # a cut of the rate after 429s must not narrow it.
        self.base_margin_s = max(self.MARGIN_S, rate * self.MARGIN_PER_RATE_S)
        self.margin_s = self.base_margin_s
        # Delays from when a waiting request was let go to its headers, and the lead
        # taken from them (see the class's docstring).
        self._delays: collections.deque[float] = collections.deque(maxlen=self.LEAD_SAMPLES)
        self.lead_s = 0.0
        # Requests let go so far: the first WARM_WINDOWS windows' worth wait longer.
        self._issued = 0
        self.count = 1
        self.window_s = 1.0
        self.set_rate(rate)

    def set_rate(self, rate: float) -> None:
        self._rate = rate
        # A fraction of a request a second is a longer window, never a second request.
        self.count = max(1, math.ceil(rate - 1e-9))
        self.window_s = max(1.0, self.count / rate) + self.margin_s
        self._warm_s = max(0.0, self.WARM_MARGIN_S - self.margin_s)
        self._log.keep_s = max(self._log.keep_s, self.window_s + self._warm_s)

    def widen(self) -> None:
        """A 429: the server counted a request later than the margin allows for."""
        self._widened = self._clock()
        self.margin_s = min(self.MAX_MARGIN_S, self.margin_s + self.WIDEN_S)
        self.set_rate(self._rate)

    def settle(self) -> None:
        """A good answer: a margin widened long enough ago narrows back a step."""
        now = self._clock()
        if self.margin_s > self.base_margin_s and now - self._widened >= self.NARROW_AFTER_S:
            self._widened = now
            self.margin_s = max(self.base_margin_s, self.margin_s - self.WIDEN_S)
            self.set_rate(self._rate)

    @property
    def span_s(self) -> float:
        """The window the next request is counted in: ``window_s``, or wider while warming."""
        warming = self._issued < self.WARM_WINDOWS * self.count
        return self.window_s + (self._warm_s if warming else 0.0)

    def wait_s(self) -> float:
        """How long the next request must wait from now (0: it may go)."""
        now = self._clock()
        edge = now - self.span_s
        log = self._log
        # Times only move later, and only until final: a final one out of the widest window
        # reading the log stays out. One that never became final (its attempt cancelled) is
        # let go after a minute.
        kept = now - log.keep_s
        while log and log[0].at <= kept and (log[0].final or log[0].at <= kept - 60.0):
            log.popleft()
        spaced = max(0.0, self._last + self.window_s / (self.count * self.BURST) - now)
        if len(log) < self.count:
            return spaced
        inside = sorted(s.at for s in log if s.at > edge)
        if len(inside) < self.count:
            return spaced
        # The next goes when all but count - 1 of those in the window have left it (its
        # headers a lead later).
        return max(spaced, inside[len(inside) - self.count] - edge - self.lead_s)

    async def acquire(self) -> Sent:
        async with self._turn:
            # A deadline, not an event: the window frees up with time, nobody signals it.
            due = None
            while (wait := self.wait_s()) > 0:
                due = self._clock() + wait
                await asyncio.sleep(wait)
            ticket = Sent(self._clock(), due)
            self._issued += 1
            self._last = ticket.at
            self._log.append(ticket)
            return ticket

    def sent(self, ticket: Sent) -> None:
        """``ticket``'s request is on the wire now (its headers are written)."""
        if not ticket.final:
            now = self._clock()
            ticket.at = max(ticket.at, now)
            ticket.final = True
            if ticket.due is not None:
                self._delays.append(now - ticket.due)
                self.lead_s = min(self.MAX_LEAD_S, max(0.0, min(self._delays)))

    @staticmethod
    def done(ticket: Sent) -> None:
        """``ticket``'s attempt is over: if its headers never went out, its time stays."""
        ticket.final = True
