"""Which way a genre is refreshed, and the incremental plan.

``decide`` picks the mode for a run of date D: incremental when asked (the default) and
the genre's cursors (``ingest.state.cursor``: movies, and collections when selected) say
when its last complete run C was; full when asked, on the genre's first run in the lake
(no cursor), with ``--limit`` (a top-N list has no members to diff), when C is after D
(a backfill), when D - C is over ``[job] max_incremental_gap_days``, or when C's plan is
gone. Every fall-back is logged as ``refresh_fell_back_to_full`` with its reason.

``incremental_plan`` reads the changes feed from C to D (C included: a change made on
day C after that run read the movie would otherwise be missed), walks discover as a full
run does (the genre's members now), and plans, in discover order, the members that are
new to the genre or changed since C. The plan keeps the members (the next run diffs
against them), the window and the counts, and the ids that left the genre.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import structlog

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Job
from ingest.settings.genres import Genre
from ingest.state.cursor import read_cursor
from ingest.state.plan import Plan, load_plan
from ingest.tmdb.changes import Changes
from ingest.tmdb.discover_window import Enumeration

log = structlog.get_logger(__name__)

FULL = "full"
INCREMENTAL = "incremental"


@dataclass(frozen=True, slots=True)
class Refresh:
    """How one genre's plan for a date is made."""

    mode: str
    # Incremental: the date of the last complete run, and that run's movie plan.
    since: dt.date | None = None
    previous: Plan | None = None
    # How many collections the genre's last snapshot had, carried from day to day: what
    # a full run would fetch (None when unknown).
    full_collections: int | None = None
    # Full although incremental was asked: why (``first_run``, ``append_changed``, ...).
    because: str | None = None


async def decide(
    lake: Lake,
    genre: Genre,
    date: dt.date,
    job: Job,
    kind: Kind = Kind.MOVIES,
    append: tuple[str, ...] | None = None,
) -> Refresh:
    """The refresh for ``genre``'s new plan of ``kind`` (movies or series) for ``date``
    (module docstring); a genre's collections count only for its movies."""
    if job.refresh == FULL:
        return Refresh(FULL)
    if job.limit is not None:
        return fell_back(genre, "limit", limit=job.limit)
    kinds = (kind, Kind.COLLECTIONS) if job.collections and kind is Kind.MOVIES else (kind,)
    cursors = {k: await read_cursor(lake, k, genre.slug) for k in kinds}
    for k, cursor in cursors.items():
        if cursor is None:
            return fell_back(genre, "first_run", dataset=str(k))
    dates = [c.date for c in cursors.values() if c is not None]
    since, latest = min(dates), max(dates)
    if latest > date:
        return fell_back(genre, "cursor_after_date", cursor=latest.isoformat(), date=date.isoformat())
    gap_days = (date - since).days
    if gap_days > job.max_incremental_gap_days:
        return fell_back(
            genre,
            "gap_too_long",
            cursor=since.isoformat(),
            gap_days=gap_days,
            max_incremental_gap_days=job.max_incremental_gap_days,
        )
    previous = await load_plan(lake, since, kind, genre.slug)
    if previous is None or not previous.complete:
        return fell_back(genre, "previous_plan_missing", cursor=since.isoformat())
    if append is not None and previous.append != append:
        # An increment fetched with other sub-resources would mix records with and without them.
        return fell_back(
            genre, "append_changed", kind=str(kind), was=",".join(previous.append), now=",".join(append)
        )
    return Refresh(INCREMENTAL, since, previous, await _snapshot_collections(lake, previous))


async def _snapshot_collections(lake: Lake, previous: Plan) -> int | None:
    """The collection count of the genre's last snapshot: that of ``previous``' date if it
    was one, else what ``previous`` carried."""
    if previous.refresh == INCREMENTAL:
        carried = (previous.increment or {}).get("full_collections")
        return carried if isinstance(carried, int) else None
    plan = await load_plan(lake, previous.date, Kind.COLLECTIONS, previous.genre)
    return len(plan.ids) if plan is not None and plan.source_plan_id == previous.plan_id else None


def fell_back(genre: Genre, reason: str, **why: Any) -> Refresh:
    log.info("refresh_fell_back_to_full", genre=genre.slug, reason=reason, **why)
    return Refresh(FULL, because=reason)


def incremental_plan(
    genre: Genre,
    date: dt.date,
    refresh: Refresh,
    changes: Changes,
    found: Enumeration,
    history: dict[str, Any],
    kind: Kind = Kind.MOVIES,
    append: tuple[str, ...] = (),
) -> Plan:
    """The plan of the members new to the genre or changed since ``refresh.since``."""
    assert refresh.previous is not None and refresh.since is not None
    before = refresh.previous.genre_members
    known = set(before)
    members = found.ids
    ids = tuple(i for i in members if i not in known or i in changes.ids)
    new = sum(1 for i in members if i not in known)
    now = set(members)
    left = [i for i in before if i not in now]
    increment = {
        "since": refresh.since.isoformat(),
        "until": date.isoformat(),
        "since_plan_id": refresh.previous.plan_id,
        "windows": [[lo.isoformat(), hi.isoformat()] for lo, hi in changes.windows],
        "changes_listed": len(changes.ids),
        "changed": len(ids) - new,
        "new": new,
        "unchanged_skipped": len(members) - len(ids),
        "left_genre": left,
        "changes_requests": changes.requests,
        "discover_requests": found.requests,
        "full_collections": refresh.full_collections,
    }
    return Plan(
        kind,
        genre.id,
        genre.slug,
        date,
        ids,
        complete=found.complete,
        history=(history,),
        refresh=INCREMENTAL,
        members=members,
        increment=increment,
        append=append,
    )


def note_plan(stats: TmdbStats, plan: Plan) -> None:
    """Count a genre's movie plan (new or reused) into the run's refresh figures."""
    stats.refresh[stats_name(plan)] = plan.refresh
    inc = plan.increment
    if plan.refresh != INCREMENTAL or inc is None:
        return
    stats.windows[stats_name(plan)] = f"{inc.get('since')}..{inc.get('until')}"
    stats.changes_listed += int(inc.get("changes_listed", 0))
    stats.changed += int(inc.get("changed", 0))
    stats.new += int(inc.get("new", 0))
    stats.unchanged_skipped += int(inc.get("unchanged_skipped", 0))


def stats_name(plan: Plan) -> str:
    """How the run's summary names a genre's plan: ``war`` for its movies (as it always
    has), ``war-politics series`` for its series."""
    return plan.genre if plan.kind is Kind.MOVIES else plan.dataset.label


def full_run_requests(plan: Plan, collections: int | None) -> int:
    """What a full run of ``plan``'s genre would cost: its discover pages, one request per
    member and, when ``collections`` (the collections this plan's movies belong to) is
    given, one per collection of the whole genre: those of the last snapshot, carried in
    the plan, or else ``collections`` scaled to all the members."""
    discover = next(
        (int(e["discover_requests"]) for e in reversed(plan.history) if "discover_requests" in e), 0
    )
    members = len(plan.genre_members)
    if collections is None:
        return discover + members
    if plan.refresh == FULL:
        return discover + members + collections
    carried = (plan.increment or {}).get("full_collections")
    if isinstance(carried, int):
        return discover + members + carried
    return discover + members + (round(collections * members / len(plan.ids)) if plan.ids else 0)
