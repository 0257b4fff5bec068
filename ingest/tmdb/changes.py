"""TMDB's changes feed: which movie ids changed between two dates.

``/movie/changes`` answers for a range of at most 14 days (past that: 422, status_code
20), 100 ids a page, each ``{"id": ..., "adult": ...}``, and like every listing no page
past 500. ``ChangesReader`` cuts a longer range into windows of 14 calendar days (both
ends inclusive), reads the first page of each, then the rest of its pages at once, and
returns the distinct ids. A window with more than 500 pages is cut in two and read again;
a single day with more is ``ChangesOverflow`` (the feed cannot list it whole, so the
caller fetches the genre in full). Adult titles are left out, as discover leaves them
out (``include_adult=false``).

The range starts on the day of the previous complete run, not the day after: a change
made on that day after the run read the movie would otherwise be missed. The overlap
costs a few movies fetched twice, never one missed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import structlog

from ingest.tmdb.client import TmdbClient
from ingest.tmdb.discover_window import MAX_PAGE

log = structlog.get_logger(__name__)

# TMDB refuses a range longer than this (start and end both count).
WINDOW_DAYS = 14


class ChangesOverflow(Exception):
    """One day of the feed has more pages than TMDB serves: it cannot be read whole (the
    caller fetches the genre in full; it never reaches an entry point)."""


@dataclass(frozen=True, slots=True)
class Changes:
    """What the feed said about one date range."""

    ids: frozenset[int]
    windows: tuple[tuple[dt.date, dt.date], ...]
    requests: int


def windows(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """``start``..``end`` (inclusive) cut into ranges of at most ``WINDOW_DAYS`` days."""
    out = []
    lo = start
    while lo <= end:
        hi = min(end, lo + dt.timedelta(days=WINDOW_DAYS - 1))
        out.append((lo, hi))
        lo = hi + dt.timedelta(days=1)
    return out


class ChangesReader:
    """Reads the feed for one range; one instance per range and run."""

    def __init__(
        self,
        client: TmdbClient,
        *,
        max_page: int = MAX_PAGE,
        include_adult: bool = False,
        path: str = "/movie/changes",
    ) -> None:
        self._client = client
        # ``/movie/changes`` or ``/tv/changes`` (``ingest.tmdb.media``).
        self._path = path
        # The catalogue with --include-adult keeps the adult titles discover leaves out.
        self._include_adult = include_adult
        # The last page the feed serves (tests lower it to reach the splits cheaply).
        self._max_page = max_page
        self._ids: set[int] = set()
        self._requests = 0
        # The windows actually read (a window cut in two counts as its halves).
        self._read: list[tuple[dt.date, dt.date]] = []

    async def read(self, start: dt.date, end: dt.date) -> Changes:
        """Every id changed from ``start`` to ``end`` (inclusive); raise ``ChangesOverflow``
        when one day lists more than the feed's 500 pages."""
        async with asyncio.TaskGroup() as tg:
            for lo, hi in windows(start, end):
                tg.create_task(self._window(lo, hi))
        spans = tuple(sorted(self._read))
        log.info(
            "changes_read",
            start=start.isoformat(),
            end=end.isoformat(),
            windows=len(spans),
            changed=len(self._ids),
            requests=self._requests,
        )
        return Changes(frozenset(self._ids), spans, self._requests)

    async def _window(self, lo: dt.date, hi: dt.date) -> None:
        pages = await self._page(lo, hi, 1)
        if pages > self._max_page:
            await self._split(lo, hi, pages)
            return
        self._read.append((lo, hi))
        if pages > 1:
            async with asyncio.TaskGroup() as tg:
                for page in range(2, pages + 1):
                    tg.create_task(self._page(lo, hi, page))

    async def _split(self, lo: dt.date, hi: dt.date, pages: int) -> None:
        if lo == hi:
            raise ChangesOverflow(
                f"TMDB's changes feed lists {pages} pages for {lo.isoformat()}, more than the "
                f"{self._max_page} it serves"
            )
        mid = lo + (hi - lo) // 2
        log.info("changes_window_split", start=lo.isoformat(), end=hi.isoformat(), pages=pages)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._window(lo, mid))
            tg.create_task(self._window(mid + dt.timedelta(days=1), hi))

    async def _page(self, lo: dt.date, hi: dt.date, page: int) -> int:
        """Read one page into the id set; return the window's page count."""
        params: dict[str, str | int] = {
            "start_date": lo.isoformat(),
            "end_date": hi.isoformat(),
            "page": page,
        }
        reply = await self._client.get(self._path, params)
        self._requests += 1
        data = reply.data
        for row in data.get("results") or ():
            if isinstance(row, dict) and isinstance(row.get("id"), int):
                if row.get("adult") and not self._include_adult:
                    continue
                self._ids.add(row["id"])
        total = data.get("total_pages")
        return int(total) if isinstance(total, int) and total > 0 else 1
