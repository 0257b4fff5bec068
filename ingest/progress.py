"""A progress line for people at a terminal: done/total, rate, ETA.

Drawn on stderr only when it is a TTY (and ``enabled``); otherwise every call is a no-op
and the JSON log lines tell the story. Redraws at most ten times a second.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _plain(n: float) -> str:
    return f"{n:,.0f}"


class Progress:
    __slots__ = ("_done", "_drawn_at", "_fmt", "_label", "_out", "_started", "_total", "extra")

    def __init__(
        self,
        label: str,
        total: int,
        *,
        unit: str = "items",
        enabled: bool = True,
        out: TextIO | None = None,
    ) -> None:
        self._out = out or sys.stderr
        # None when drawing is off: every method then returns at once.
        self._label: str | None = label if enabled and self._out.isatty() else None
        self._total = total
        self._done = 0
        self._fmt: Callable[[float], str] = _human_bytes if unit == "bytes" else _plain
        self._started = time.monotonic()
        self._drawn_at = 0.0
        # Free text appended to the line (e.g. "38 req/s, 2 429s").
        self.extra = ""

    def set_total(self, total: int) -> None:
        self._total = total
        self._draw(force=True)

    def advance(self, n: int = 1) -> None:
        self._done += n
        self._draw()

    def close(self) -> None:
        if self._label is not None:
            self._draw(force=True)
            self._out.write("\n")
            self._out.flush()
            self._label = None

    def _draw(self, *, force: bool = False) -> None:
        if self._label is None:
            return
        now = time.monotonic()
        if not force and now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        elapsed = max(now - self._started, 1e-6)
        rate = self._done / elapsed
        pct = 100.0 * self._done / self._total if self._total else 0.0
        left = (self._total - self._done) / rate if rate > 0 and self._total else 0.0
        eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left else "--:--:--"
        line = (
            f"\r{self._label}: {self._fmt(self._done)}/{self._fmt(self._total)} ({pct:5.1f}%)"
            f"  {self._fmt(rate)}/s  ETA {eta}"
        )
        if self.extra:
            line += f"  {self.extra}"
        self._out.write(line.ljust(100))
        self._out.flush()
