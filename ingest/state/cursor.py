"""The refresh cursor: the date of a dataset's last complete run, kept in the lake.

One small object per dataset (a genre's movies, or its collections) at
``_ingest/tmdb/cursors/<kind>-<genre>.json``, outside every date's partition, so a run
for any date can find it. It names the date, the plan that completed it and the mode of
that run. It moves only forward, and only once every batch of that date's plan is in
the lake: a run killed halfway leaves it where it was, and the rerun finishes the same
plan before moving it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson
import structlog

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.state import keys
from ingest.state.versions import CURRENT, upgrade

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Cursor:
    date: dt.date
    plan_id: str
    # "full" or "incremental": how the run that completed ``date`` fetched.
    mode: str
    # When it moved here (UTC, ISO 8601).
    at: str


def cursor_key(kind: Kind, genre: str) -> str:
    return keys.cursor(str(kind), genre)


async def read_cursor(lake: Lake, kind: Kind, genre: str) -> Cursor | None:
    """The dataset's cursor, or None when no run of it has completed (or it is unreadable,
    which is treated the same way: the next run is a full one)."""
    key = cursor_key(kind, genre)
    raw = await lake.read(key)
    if raw is None:
        return None
    try:
        d = upgrade("cursor", key, orjson.loads(raw))
        return Cursor(dt.date.fromisoformat(d["date"]), str(d["plan_id"]), str(d["mode"]), str(d["at"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("cursor_unreadable", key=key, hint="the next run of this dataset is a full one")
        return None


async def move_cursor(lake: Lake, kind: Kind, genre: str, date: dt.date, plan_id: str, mode: str) -> bool:
    """Move the cursor to ``date``; never backwards. Return whether it moved."""
    current = await read_cursor(lake, kind, genre)
    if current is not None and current.date > date:
        return False
    if current is not None and (current.date, current.plan_id, current.mode) == (date, plan_id, mode):
        return False  # a rerun of a complete date: already here
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    body = {
        "version": CURRENT["cursor"],
        "date": date.isoformat(),
        "plan_id": plan_id,
        "mode": mode,
        "at": at,
    }
    await lake.write(cursor_key(kind, genre), orjson.dumps(body, option=orjson.OPT_INDENT_2))
    log.info(
        "cursor_moved",
        kind=str(kind),
        genre=genre,
        date=date.isoformat(),
        mode=mode,
        previous=current.date.isoformat() if current else None,
    )
    return True
