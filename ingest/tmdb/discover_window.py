"""What a discover walk is made of: its page limits, a release-date window, what it yields.

Discover serves ``PAGE_SIZE`` results a page and refuses pages above ``MAX_PAGE``, so one
query reaches ``REACHABLE`` movies; a genre with more is walked in ``Window``s of
``primary_release_date`` cut to about ``TARGET`` movies each (``ingest.tmdb.discover``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PAGE_SIZE = 20
MAX_PAGE = 500
REACHABLE = PAGE_SIZE * MAX_PAGE
TARGET = 9_000
# Bounds for a time-based cut when the rank-based one finds no date (never on TMDB data).
_EARLIEST = dt.date(1870, 1, 1)
_LATEST_YEARS_AHEAD = 30


@dataclass(frozen=True, slots=True)
class Window:
    """Movies with ``gte <= primary_release_date <= lte``; ``None`` leaves that side open
    (both None: no date filter at all, undated movies included)."""

    gte: dt.date | None = None
    lte: dt.date | None = None
    # The date it windows on: movies' ``primary_release_date``, series' ``first_air_date``.
    field: str = "primary_release_date"

    @property
    def single_day(self) -> bool:
        return self.gte is not None and self.gte == self.lte

    def params(self) -> dict[str, str]:
        p = {}
        if self.gte is not None:
            p[f"{self.field}.gte"] = self.gte.isoformat()
        if self.lte is not None:
            p[f"{self.field}.lte"] = self.lte.isoformat()
        return p

    def label(self) -> str:
        return f"{self.gte or '..'}/{self.lte or '..'}"

    def cut(self, dates: list[dt.date]) -> list[Window]:
        """Split after each of ``dates`` (those strictly inside the window)."""
        inside = sorted(
            {d for d in dates if (self.gte is None or d >= self.gte) and (self.lte is None or d < self.lte)}
        )
        windows, lo = [], self.gte
        for d in inside:
            windows.append(Window(lo, d, self.field))
            lo = d + dt.timedelta(days=1)
        windows.append(Window(lo, self.lte, self.field))
        return windows

    def midpoint(self) -> dt.date:
        """The day halfway between the window's ends (open ends: 1870, 30 years ahead)."""
        lo = self.gte or _EARLIEST
        hi = self.lte or dt.date(dt.date.today().year + _LATEST_YEARS_AHEAD, 12, 31)
        return lo + (hi - lo) / 2


@dataclass(frozen=True, slots=True)
class Enumeration:
    """What discover yielded for one genre."""

    ids: tuple[int, ...]
    # Discover's unfiltered total for the genre.
    total_results: int
    # True when ``ids`` is meant to be the whole genre (no --limit below the total).
    complete: bool
    windows: int
    requests: int
    # Movies of ``total_results`` not found (complete enumerations only), and why.
    gap: int = 0
    gap_reason: str | None = None
    undated_found: int = 0
    # Results without a usable id, skipped (counted once per page they were on).
    unusable: int = 0
