"""What the lake holds for one processing date, read from the lake alone.

No TMDB credentials and no run settings beyond the lake and the date: the CSV manifests
and the TMDB plans under ``_ingest/`` say what was planned, the objects under ``Raw/``
and the batch markers say what landed. Plans and markers are read only through
``ingest.tmdb.plan`` (``Plan``) and ``ingest.tmdb.markers`` (``batches_in_lake``), so their
layout has one owner. The date's TMDB state and data files are listed once
(``ingest.lake.listing``), at once, and shared by every dataset's row, genres' and the
catalogue's alike.

A CSV file counts as in the lake when its object's size and the SHA-256 recorded with it
at upload match its manifest (no re-hash: that would read every byte back). A TMDB
dataset counts as in the lake when every batch of its plan's target is
(``ingest.tmdb.markers.batches_in_lake``, the crawler's and the queue's definition too) and,
for a whole-genre run, its completion step was taken (``removed.json``, the cursor).

What the date was *asked* for comes from the runs' requests (``ingest.runs``): a CSV file
or a genre's dataset a run asked for and never got as far as planning is missing too
(``unplanned``), and the hint names how the date was made.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import orjson

from ingest.lake import Lake
from ingest.lake.keys import CATALOGUE, Kind, csv_key, state_key, tmdb_prefix
from ingest.lake.listing import Listing
from ingest.runs import RunRequest, read_requests
from ingest.status.catalogue import catalogue_rows
from ingest.status.rows import CsvStatus, DateStatus, TmdbStatus
from ingest.tmdb.cursor import read_cursor
from ingest.tmdb.markers import batches_in_lake
from ingest.tmdb.plan import Batch, Plan
from ingest.tmdb.removed import read_removed

# Marker bodies read at once: enough to hide S3 latency, few enough to stay polite.
_MARKER_READS = 16
_CSV_ROOT = "Raw/Local/CSV/"


async def survey(lake: Lake, date: dt.date) -> DateStatus:
    runs = await read_requests(lake, date)
    csv = await _csv_files(lake, date)
    csv += _unstarted_csv(runs, csv, date)
    listing = Listing(lake)
    await listing.read_all([_tmdb_state(date), *(tmdb_prefix(kind, date) for kind in Kind)])
    plans = await _plans(lake, listing, date)
    whole = {g for r in runs if r.whole_genres for g in r.genres}
    tmdb = [await _dataset(lake, listing, plan, plan.genre in whole) for plan in plans]
    tmdb += _unplanned(runs, plans)
    # The whole catalogue's datasets keep a chunked plan of their own (``--catalogue``).
    tmdb += await catalogue_rows(lake, date, runs, listing)
    tmdb.sort(key=lambda t: (t.genre, t.kind is not Kind.MOVIES))
    return DateStatus(lake.url, date, tuple(csv), tuple(tmdb), tuple(runs))


def _unstarted_csv(runs: list[RunRequest], found: list[CsvStatus], date: dt.date) -> list[CsvStatus]:
    """A row for each CSV file a run asked for of which nothing is in the lake."""
    have = {c.key for c in found}
    asked = {csv_key(name, date): name for r in runs for name in r.csv}
    return [
        CsvStatus(name, key, "unstarted", None, None, None) for key, name in asked.items() if key not in have
    ]


def _unplanned(runs: list[RunRequest], plans: list[Plan]) -> list[TmdbStatus]:
    """A row for each genre's movies or collections a run asked for that has no plan."""
    have = {(p.genre, p.kind) for p in plans}
    asked: dict[tuple[str, Kind], str] = {}
    for r in runs:
        for genre, kind in r.datasets():
            if genre != CATALOGUE:
                asked.setdefault((genre, kind), r.refresh)
    return [
        TmdbStatus(genre, kind, refresh, 0, 0, 0, 0, (), 0, None, None, None, None)
        for (genre, kind), refresh in asked.items()
        if (genre, kind) not in have
    ]


# CSV ---------------------------------------------------------------------------------


async def _csv_files(lake: Lake, date: dt.date) -> list[CsvStatus]:
    out: dict[str, CsvStatus] = {}
    for key in await lake.list(state_key(date, "csv") + "/"):
        if key.endswith(".manifest.json"):
            status = await _csv_file(lake, date, key)
            out[status.key] = status
    # An object without a manifest: uploaded, then stopped before the manifest was written.
    for key in await lake.list(_CSV_ROOT):
        name = key.rsplit("/", 1)[-1]
        if key not in out and csv_key(name, date) == key:
            info = await lake.stat(key)
            out[key] = CsvStatus(name, key, "no_manifest", info.size if info else None, None, None)
    return sorted(out.values(), key=lambda c: c.file)


async def _csv_file(lake: Lake, date: dt.date, manifest_key: str) -> CsvStatus:
    name = manifest_key.rsplit("/", 1)[-1].removesuffix(".manifest.json")
    manifest = _json_object(await lake.read(manifest_key))
    key = str(manifest.get("key") or csv_key(name, date))
    size, sha256 = manifest.get("bytes"), manifest.get("sha256")
    rows, malformed = manifest.get("rows"), manifest.get("malformed_rows")
    info = await lake.stat(key)
    if info is None:
        state = "missing"
    elif not isinstance(size, int) or not info.holds(size, sha256, manifest.get("crc64nvme")):
        state = "mismatch"
    else:
        state = "ok"
    return CsvStatus(
        file=str(manifest.get("file") or name),
        key=key,
        state=state,
        bytes=size if isinstance(size, int) else None,
        rows=rows if isinstance(rows, int) else None,
        malformed_rows=malformed if isinstance(malformed, int) else None,
    )


# TMDB --------------------------------------------------------------------------------


def _tmdb_state(date: dt.date) -> str:
    return state_key(date, "tmdb") + "/"


async def _plans(lake: Lake, listing: Listing, date: dt.date) -> list[Plan]:
    plans = []
    for key in await listing.keys(_tmdb_state(date)):
        if key.endswith("/plan.json"):
            data = await lake.read(key)
            if data is not None:
                plans.append(Plan.from_json(data, key))
    return plans


async def _dataset(lake: Lake, listing: Listing, plan: Plan, whole_genre_asked: bool) -> TmdbStatus:
    planned = plan.target(plan.limit)
    batches = plan.batches(planned)
    done = await batches_in_lake(lake, plan, batches, listing)
    bodies = await _marker_bodies(lake, done)
    written = not_found = oversized = 0
    missing = []
    for batch in batches:
        body = bodies.get(batch.number)
        if body is None:
            missing.append(batch.number)
            continue
        written, not_found = written + _written(body, batch), not_found + _skipped(body)
        oversized += _skipped(body, "oversized")
    gap, reason = _last_gap(plan)
    removed = await read_removed(lake, plan.date, plan.genre) if plan.kind is Kind.MOVIES else None
    cursor = await read_cursor(lake, plan.kind, plan.genre)
    # A whole-genre run ends by recording what the genre lost and moving the cursor.
    step_taken = (removed is not None if plan.kind is Kind.MOVIES else True) and (
        cursor is not None and cursor.date >= plan.date
    )
    unfinished = whole_genre_asked and _whole(plan) and not missing and not step_taken
    return TmdbStatus(
        genre=plan.genre,
        kind=plan.kind,
        refresh=plan.refresh,
        planned=planned,
        written=written,
        not_found=not_found,
        batches=len(batches),
        missing_batches=tuple(missing),
        removed=removed.count if removed else 0,
        gap=gap,
        gap_reason=reason,
        cursor=cursor.date.isoformat() if cursor else None,
        plan_id=plan.plan_id,
        unfinished=unfinished,
        oversized=oversized,
    )


def _whole(plan: Plan) -> bool:
    """Whether the plan is of a whole genre (movies), or drawn from one (collections)."""
    return plan.complete if plan.kind is Kind.MOVIES else plan.source_plan_id is not None


async def _marker_bodies(lake: Lake, done: dict[int, str]) -> dict[int, dict[str, Any]]:
    bodies: dict[int, dict[str, Any]] = {}
    gate = asyncio.Semaphore(_MARKER_READS)

    async def read(number: int, key: str) -> None:
        async with gate:
            bodies[number] = _json_object(await lake.read(key))

    async with asyncio.TaskGroup() as tg:
        for number, key in done.items():
            tg.create_task(read(number, key))
    return bodies


def _written(body: dict[str, Any], batch: Batch) -> int:
    written = body.get("written")
    # A marker whose body cannot be read still says the batch is done; count its ids.
    return written if isinstance(written, int) else len(batch.ids)


def _skipped(body: dict[str, Any], name: str = "skipped") -> int:
    skipped = body.get(name)
    return len(skipped) if isinstance(skipped, list) else 0


def _last_gap(plan: Plan) -> tuple[int | None, str | None]:
    for entry in reversed(plan.history):
        if "gap" in entry:
            gap = entry.get("gap")
            return (gap if isinstance(gap, int) else None), entry.get("gap_reason")
    return None, None


def _json_object(data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
