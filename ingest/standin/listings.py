"""The stand-in's paged listings, TMDB's way: discover (20 a page) and the changes feed
(100 a page, a range of at most 14 days); pages from 1 to 500."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ingest.standin.catalog import Catalog
from ingest.standin.constants import CHANGES_PAGE_SIZE, DAY0, MAX_CHANGES_DAYS, MAX_PAGE, PAGE_SIZE
from ingest.standin.errors import ERR_DATE_RANGE, ERR_INPUT


def page_of(q: Mapping[str, str]) -> int | None:
    """The ``page`` asked for, or None when TMDB refuses it (status_code 22)."""
    try:
        page = int(q.get("page", "1"))
    except ValueError:
        return None
    return page if 1 <= page <= MAX_PAGE else None


def discover_page(catalog: Catalog, ids: Sequence[int], page: int) -> dict[str, Any]:
    chunk = ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return {
        "page": page,
        "results": [catalog.summary(catalog.movies[i]) for i in chunk],
        "total_pages": math.ceil(len(ids) / PAGE_SIZE),
        "total_results": len(ids),
    }


def changes_days(q: Mapping[str, str], today: dt.date) -> tuple[int, int] | dict[str, Any]:
    """The first and last day of the calendar ``start_date``/``end_date`` name (TMDB's
    default: the last 24 hours), or the error body TMDB answers with 422."""
    try:
        end = dt.date.fromisoformat(q["end_date"]) if "end_date" in q else today
        yesterday = end - dt.timedelta(days=1)
        start = dt.date.fromisoformat(q["start_date"]) if "start_date" in q else yesterday
    except ValueError:
        return ERR_INPUT
    if end < start or (end - start).days > MAX_CHANGES_DAYS:
        return ERR_DATE_RANGE
    return (start - DAY0).days, (end - DAY0).days


def changes_page(ids: Sequence[int], page: int) -> dict[str, Any]:
    chunk = ids[(page - 1) * CHANGES_PAGE_SIZE : page * CHANGES_PAGE_SIZE]
    return {
        "results": [{"id": i, "adult": False} for i in chunk],
        "page": page,
        "total_pages": max(1, math.ceil(len(ids) / CHANGES_PAGE_SIZE)),
        "total_results": len(ids),
    }
