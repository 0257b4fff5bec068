"""A progress line for people at a terminal: done/total, rate, ETA, or free status text.

Drawn on stderr only when it is a TTY (and ``enabled``); otherwise every call is a no-op
and the JSON log lines tell the story. ``advance`` is cheap enough to call per record: it
adds, reads the clock and returns unless a tenth of a second has passed since the last
redraw.

A log line must never land on the bar's line: the loggers of ``ingest.reports.logs`` write through
``write_line``, which clears the active bar, writes the line and redraws the bar below it.
Bars and log lines may come from different threads (a file copy runs in a worker thread),
so drawing and writing share one lock.

    bar = Progress("crime movies", total=1105)       # a known total: %, rate, ETA
    bar.advance(1)                                    # per record
    bar.extra = "38 req/s, 2 429s"                    # appended to the line
    bar.close()                                       # final state once, one newline

    found = Progress("crime discover", total=None)   # an unknown total: count and rate
    found.status("12 pages, 2 windows")               # free text, redrawn at most 10/s
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

_REDRAW_S = 0.1
_CLEAR = "\r\x1b[K"  # back to column 0, erase to the end of the line

# The bar on the terminal's current line (the last one drawn and not yet closed), so log
# lines can step around it; None when there is none. Guarded by _lock, with every write
# to the terminal.
_active: Progress | None = None
_lock = threading.RLock()


def write_line(text: str | bytes, out: TextIO | None = None) -> None:
    """Write one log line (without its newline) to stderr, around the bar if one is drawn."""
    out = out or sys.stderr
    with _lock:
        bar = _active
        if bar is not None:
            out.write(_CLEAR)
        if isinstance(text, bytes):
            out.flush()
            out.buffer.write(text + b"\n")
            out.buffer.flush()
        else:
            out.write(text + "\n")
        out.flush()
        if bar is not None:
            bar.redraw()


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 batch``, ``2 batches``: a count and its noun, agreed."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _plain(n: float) -> str:
    return f"{n:,.0f}"


class Progress:
    __slots__ = (
        "_done",
        "_drawn_state",
        "_fmt",
        "_label",
        "_next_draw",
        "_out",
        "_saved",
        "_started",
        "_status",
        "_total",
        "_unit",
        "_width",
        "extra",
    )

    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        unit: str = "items",
        enabled: bool = True,
        out: TextIO | None = None,
    ) -> None:
        self._out = out or sys.stderr
        # None when drawing is off: every method then returns at once.
        self._label: str | None = label if enabled and self._out.isatty() else None
        # None: not known yet (discovery); the line then shows the count and rate only.
        self._total = total
        self._done = 0
        # What is safe (written to the lake), when that differs from what is done: a
        # batch's records are kept only once the whole batch is in. None: not shown.
        self._saved: int | None = None
        self._unit = unit
        self._fmt: Callable[[float], str] = human_bytes if unit == "bytes" else _plain
        self._started = time.monotonic()
        # The first advance or status draws at once; later ones wait for this time.
        self._next_draw = 0.0
        # The state (done, status, extra) last put on the terminal: close() does not draw
        # the same state twice just because the rate has moved.
        self._drawn_state: tuple[int, int | None, str, str] | None = None
        self._status = ""
        # A line wider than the terminal wraps, and "\r" then redraws only its last part.
        self._width = max(shutil.get_terminal_size((100, 24)).columns - 1, 20)
        # Free text appended to the line (e.g. "38 req/s, 2 429s").
        self.extra = ""

    def advance(self, n: int = 1) -> None:
        self._done += n
        if self._label is not None and time.monotonic() >= self._next_draw:
            self.redraw()

    def save(self, n: int) -> None:
        """Count ``n`` as saved (``advance`` counts them as done when they arrive)."""
        self._saved = (self._saved or 0) + n

    def status(self, text: str) -> None:
        """Show ``text`` after the label (e.g. "12 pages, 2 windows" while discovering)."""
        self._status = text
        if self._label is not None and time.monotonic() >= self._next_draw:
            self.redraw()

    def redraw(self) -> None:
        global _active
        if self._label is None:
            return
        line = self._line()
        with _lock:
            _active = self
            self._next_draw = time.monotonic() + _REDRAW_S
            self._drawn_state = (self._done, self._saved, self._status, self.extra)
            self._out.write(_CLEAR + line)
            self._out.flush()

    def close(self) -> None:
        """Draw the final state (unless it is already on screen) and end the line."""
        global _active
        if self._label is None:
            return
        with _lock:
            # Drawn again only when the screen does not show this bar's last state already.
            if _active is not self or self._drawn_state != (
                self._done,
                self._saved,
                self._status,
                self.extra,
            ):
                self._out.write(_CLEAR + self._line())
            self._out.write("\n")
            self._out.flush()
            self._label = None
            if _active is self:
                _active = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        parts: list[str] = []
        if self._status:
            parts.append(self._status)
        if self._done or self._total is not None:
            rate = self._done / elapsed
            counted = self._fmt(self._done)
            if self._saved is not None:
                counted = f"saved {self._fmt(self._saved)} · fetched {counted}"
            if self._total is None:
                parts.append(f"{counted} {self._unit}  {self._fmt(rate)}/s")
            else:
                pct = 100.0 * self._done / self._total if self._total else 100.0
                left = (self._total - self._done) / rate if rate > 0 else 0.0
                eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left > 0 else "--:--:--"
                parts.append(
                    f"{counted}/{self._fmt(self._total)} ({pct:5.1f}%)  {self._fmt(rate)}/s  ETA {eta}"
                )
        if self.extra:
            parts.append(self.extra)
        return f"{self._label}: {'  '.join(parts)}"[: self._width]
