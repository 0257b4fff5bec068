"""The producer: every movie id of a genre, from ``/discover/movie``, most popular first.

Discover refuses pages above 500, so one query reaches at most 10,000 movies. A genre
with more is cut into ``primary_release_date`` windows until each fits. The cuts are
chosen from what TMDB says rather than guessed: the movie at rank *r* of the window sorted
by release date (one page of ``sort_by=primary_release_date.asc``, or ``.desc`` from the
other end) gives the date below which about *r* movies lie, so one request places a cut
that leaves each side near ``TARGET`` (9,000: the margin absorbs ties on the cut date).
A window's first page is both its probe (``total_results``) and its first page of ids, so
the only requests that bring nothing new are those cut-finding pages and the probes of
windows that turn out too big again. Windows above 20,000 movies are peeled: one window off
each end, the middle cut again.

Date filters leave out movies without a release date. The run compares what the windows
reached with the unfiltered ``total_results``; when the gap is movies without a date, it
reads them where a date-sorted listing puts them (first, when sorted descending, on
TMDB), taking only entries that really have no date, and reports whatever gap remains
and why. Ids are de-duplicated throughout (pages shift while being read). A page without
a ``results`` list or an integer ``total_results`` is a failed request (retried); a result
without a usable id (a positive integer) is skipped and counted (``unusable``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import structlog

from ingest.reports.progress import Progress, counted
from ingest.settings.genres import Genre
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.discover_window import MAX_PAGE, PAGE_SIZE, REACHABLE, TARGET, Enumeration, Window
from ingest.tmdb.media import MOVIE_SOURCE, Source
from ingest.tmdb.wire import DiscoverPage, DiscoverResult

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Tally:
    # id -> popularity: what every page fetched so far has shown.
    found: dict[int, float] = field(default_factory=dict)
    undated: set[int] = field(default_factory=set)
    requests: int = 0
    windows: int = 0
    # Sum of the final windows' totals: what the date windows can reach.
    window_total: int = 0
    # Movies beyond page 500 of a one-day window, which no filter can split further.
    overflow: int = 0
    # Results without a usable id.
    unusable: int = 0


class Discoverer:
    """Enumerates one genre; one instance per genre and run."""

    def __init__(
        self, client: TmdbClient, genre: Genre, *, progress: bool = False, source: Source = MOVIE_SOURCE
    ) -> None:
        self._client = client
        self._genre = genre
        # Movies or series: the listing, and the date it is windowed on.
        self._source = source
        self._all = Window(field=source.date_param)
        self._t = _Tally()
        # Pages read and movies found, for people at a terminal. No total: how many pages a
        # genre takes is only known once its windows are cut.
        self._bar = Progress(f"{genre.slug} discover", None, unit="pages", enabled=progress)

    async def run(self, limit: int | None = None) -> Enumeration:
        try:
            first = await self._page(self._all, 1)
            total = first["total_results"]
            return await self._enumerate(limit, first, total)
        finally:
            self._bar.close()

    async def _enumerate(self, limit: int | None, first: DiscoverPage, total: int) -> Enumeration:
        if limit is not None and limit < total:
            return await self._top(limit, first)
        if total <= REACHABLE:
            await self._rest(self._all, total)
            self._t.windows, self._t.window_total = 1, total
        else:
            await self._cover(self._all, first)
            missing = total - self._t.window_total
            if missing > 0:
                await self._undated(missing)
        return self._result(total, complete=True)

    # Plain pages -------------------------------------------------------------------------

    async def _page(self, window: Window, page: int, sort_by: str = "popularity.desc") -> DiscoverPage:
        params: dict[str, str | int] = {
            "with_genres": self._genre.id,
            "sort_by": sort_by,
            "include_adult": "false",
            "page": page,
            **dict(self._source.discover_params),
            **window.params(),
        }
        reply = await self._client.get(self._source.discover, params, check=page_problem)
        self._t.requests += 1
        data: DiscoverPage = reply.data
        usable = [r for r in data["results"] if _usable(r)]
        if len(usable) < len(data["results"]):
            self._t.unusable += len(data["results"]) - len(usable)
            data["results"] = usable
        for r in usable:
            self._t.found.setdefault(r["id"], _popularity(r))
            if not r.get(self._source.result_date):
                self._t.undated.add(r["id"])
        windows = max(self._t.windows, 1)
        self._bar.status(
            f"{counted(self._t.requests, 'page')}, {counted(windows, 'window')}, "
            f"{len(self._t.found):,} {self._source.kind}"
        )
        return data

    async def _pages(self, window: Window, pages: range, sort_by: str = "popularity.desc") -> None:
        async with asyncio.TaskGroup() as tg:
            for p in pages:
                tg.create_task(self._page(window, p, sort_by))

    async def _rest(self, window: Window, total: int) -> None:
        """Every page after the first of a window that fits under the cap."""
        last = min(MAX_PAGE, math.ceil(total / PAGE_SIZE))
        await self._pages(window, range(2, last + 1))

    async def _top(self, limit: int, first: DiscoverPage) -> Enumeration:
        """--limit: the first pages of the unfiltered popularity order."""
        total = first["total_results"]
        if limit > REACHABLE:
            # Beyond page 500 the order needs every window; rank what they return.
            await self._cover(self._all, first)
            return self._result(total, complete=False, limit=limit)
        last = math.ceil(limit / PAGE_SIZE)
        await self._pages(self._all, range(2, last + 1))
        # Pages shift while read: a movie may show twice and another not at all; read on.
        while len(self._t.found) < limit and last < min(MAX_PAGE, math.ceil(total / PAGE_SIZE)):
            last += 1
            await self._page(self._all, last)
        return self._result(total, complete=False, limit=limit)

    # Windows -----------------------------------------------------------------------------

    async def _cover(self, window: Window, first: DiscoverPage) -> None:
        n = first["total_results"]
        if n <= REACHABLE or window.single_day:
            if n > REACHABLE:
                self._t.overflow += n - REACHABLE
                log.warning(
                    "window_overflowed", genre=self._genre.slug, window=window.label(), total_results=n
                )
            self._t.windows += 1
            self._t.window_total += n
            await self._rest(window, n)
            return
        parts = window.cut(await self._cut_dates(window, n))
        if len(parts) == 1:
            parts = window.cut([window.midpoint()])
        log.debug(
            "window_split",
            genre=self._genre.slug,
            window=window.label(),
            total_results=n,
            parts=[p.label() for p in parts],
        )
        async with asyncio.TaskGroup() as tg:
            for part in parts:
                tg.create_task(self._probe(part))

    async def _probe(self, window: Window) -> None:
        await self._cover(window, await self._page(window, 1))

    async def _cut_dates(self, window: Window, n: int) -> list[dt.date]:
        if n <= 2 * REACHABLE:
            k = math.ceil(n / TARGET)
            ranks = [round(j * n / k) for j in range(1, k)]
        else:
            ranks = [TARGET, n - TARGET]
        found: list[dt.date] = []

        async def at(rank: int) -> None:
            d = await self._date_at(window, n, rank)
            if d is not None:
                found.append(d)

        async with asyncio.TaskGroup() as tg:
            for r in ranks:
                tg.create_task(at(r))
        return found

    async def _date_at(self, window: Window, n: int, rank: int) -> dt.date | None:
        """The release date of the movie at ``rank`` (from 1) in the window's date order."""
        if rank <= REACHABLE:
            sort_by, pos = f"{self._source.date_param}.asc", rank
        else:
            sort_by, pos = f"{self._source.date_param}.desc", n - rank + 1
        pos = max(1, min(pos, REACHABLE))
        results = (await self._page(window, math.ceil(pos / PAGE_SIZE), sort_by))["results"]
        at = (pos - 1) % PAGE_SIZE
        for j in sorted(range(len(results)), key=lambda j: abs(j - at)):
            text = results[j].get(self._source.result_date)
            if isinstance(text, str) and text:
                try:
                    return dt.date.fromisoformat(text)
                except ValueError:
                    continue
        return None

    async def _undated(self, missing: int) -> None:
        """Read the movies without a date where a descending date sort lists them, if it
        does: only entries with no date count, and reading stops at the first dated one."""
        page = 0
        while page < MAX_PAGE:
            page += 1
            results = (await self._page(self._all, page, f"{self._source.date_param}.desc"))["results"]
            if not results or any(r.get(self._source.result_date) for r in results):
                break
            if page * PAGE_SIZE >= missing:
                break

    # Result ------------------------------------------------------------------------------

    def _result(self, total: int, *, complete: bool, limit: int | None = None) -> Enumeration:
        t = self._t
        ranked = sorted(t.found.items(), key=lambda kv: (-kv[1], kv[0]))
        ids = tuple(i for i, _ in ranked)
        if limit is not None:
            ids = ids[:limit]
        gap, reason = 0, None
        if complete:
            gap = max(0, total - len(ids))
            reasons = []
            undated_left = max(0, total - t.window_total - len(t.undated)) if t.windows > 1 else 0
            if undated_left:
                reasons.append(
                    f"{undated_left} movies without a primary release date, which date windows "
                    "cannot reach and the date-sorted listing did not show"
                )
            if t.overflow:
                reasons.append(f"{t.overflow} movies past page 500 of single-day windows")
            if gap and not reasons:
                reasons.append("discover's pages shifted while they were read (a rerun may reach them)")
            reason = "; ".join(reasons) if gap else None
        if t.unusable:
            log.warning("discover_results_unusable", genre=self._genre.slug, results=t.unusable)
        return Enumeration(
            ids=ids,
            total_results=total,
            complete=complete,
            windows=max(t.windows, 1),
            requests=t.requests,
            gap=gap,
            gap_reason=reason,
            undated_found=len(t.undated),
            unusable=t.unusable,
        )


def page_problem(data: Any) -> str | None:
    """What makes a discover page unusable for the walk (``ingest.tmdb.verdicts.Check``)."""
    if not isinstance(data.get("results"), list):
        return "a discover page without a results list"
    total = data.get("total_results")
    if type(total) is not int or total < 0:
        return "a discover page without an integer total_results"
    return None


def _usable(result: Any) -> bool:
    """A result the plan can take: an object with a positive integer id."""
    if not isinstance(result, dict):
        return False
    movie_id = result.get("id")
    return type(movie_id) is int and movie_id > 0


def _popularity(result: DiscoverResult) -> float:
    value = result.get("popularity")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
