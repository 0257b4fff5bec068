"""What the lake holds for one processing date, read from the lake alone.

No TMDB credentials and no run settings beyond the lake and the date: the CSV manifests
and the TMDB plans under ``_ingest/`` say what was planned, the objects under ``Raw/``
and the batch markers say what landed. Plans and markers are read only through
``ingest.tmdb.plan`` (``Plan``, ``done_batches``), so their layout has one owner.

A CSV file counts as in the lake when its object's size and the SHA-256 recorded with it
at upload match its manifest (no re-hash: that would read every byte back). A TMDB
dataset counts as in the lake when every batch of its plan's target has a marker and
every file that marker lists exists.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.lake import Lake
from ingest.lake.keys import Kind, csv_key, state_key, tmdb_prefix
from ingest.tmdb.cursor import read_cursor
from ingest.tmdb.plan import Batch, Plan, done_batches
from ingest.tmdb.removed import read_removed

# Marker bodies read at once: enough to hide S3 latency, few enough to stay polite.
_MARKER_READS = 16
_CSV_ROOT = "Raw/Local/CSV/"


@dataclass(frozen=True, slots=True)
class CsvStatus:
    file: str
    key: str
    # "ok", "missing" (manifest, no object), "mismatch" (size or sha256 differ),
    # "no_manifest" (object, no manifest: the stage was stopped before it finished).
    state: str
    bytes: int | None
    rows: int | None
    malformed_rows: int | None

    @property
    def complete(self) -> bool:
        return self.state == "ok"


@dataclass(frozen=True, slots=True)
class TmdbStatus:
    genre: str
    kind: Kind
    # "full" or "incremental": what the partition holds (a snapshot or the changes).
    refresh: str
    planned: int
    written: int
    # Planned ids TMDB answered 404 for: not an error, not in the lake.
    not_found: int
    batches: int
    missing_batches: tuple[int, ...]
    # Movies gone since the previous complete run: left the genre or answered 404
    # (movies only; ``removed.json``, written once the movie plan is whole).
    removed: int
    # How many of the genre's movies discover could not reach, and why (movies only).
    gap: int | None
    gap_reason: str | None
    # The date of the dataset's last complete run: where the next incremental run starts
    # from (None before its first complete run).
    cursor: str | None
    # None for collections a run asked for whose plan was never saved: the run stopped
    # after the genre's movies were all in and before it froze their collections.
    plan_id: str | None

    @property
    def unplanned(self) -> bool:
        return self.plan_id is None

    @property
    def complete(self) -> bool:
        return not self.missing_batches and not self.unplanned


@dataclass(frozen=True, slots=True)
class DateStatus:
    lake: str
    date: dt.date
    csv: tuple[CsvStatus, ...]
    tmdb: tuple[TmdbStatus, ...]

    @property
    def empty(self) -> bool:
        return not self.csv and not self.tmdb

    @property
    def complete(self) -> bool:
        """Everything planned for the date is in the lake; an empty date is not complete
        (a cron gate asking "did today land?" must hear no)."""
        return not self.empty and all(c.complete for c in self.csv) and all(t.complete for t in self.tmdb)


async def survey(lake: Lake, date: dt.date) -> DateStatus:
    csv = await _csv_files(lake, date)
    plans = await _plans(lake, date)
    tmdb = [await _dataset(lake, plan) for plan in plans]
    tmdb += _unplanned_collections(plans, tmdb)
    # The whole catalogue's datasets keep a chunked plan of their own (``--catalogue``).
    from ingest.tmdb.catalogue_status import catalogue_rows

    tmdb += await catalogue_rows(lake, date)
    tmdb.sort(key=lambda t: (t.genre, t.kind is not Kind.MOVIES))
    return DateStatus(lake.url, date, tuple(csv), tuple(tmdb))


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
    elif info.size != size or not sha256 or info.sha256 != sha256:
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


async def _plans(lake: Lake, date: dt.date) -> list[Plan]:
    plans = []
    for key in await lake.list(state_key(date, "tmdb") + "/"):
        if key.endswith("/plan.json"):
            data = await lake.read(key)
            if data is not None:
                plans.append(Plan.from_json(data, key))
    return plans


async def _dataset(lake: Lake, plan: Plan) -> TmdbStatus:
    planned = plan.target(plan.limit)
    batches = plan.batches(planned)
    done = await done_batches(lake, plan, batches)
    data_keys = set(await lake.list(f"{tmdb_prefix(plan.kind, plan.date)}{plan.genre}-"))
    bodies = await _marker_bodies(lake, done)
    written = not_found = 0
    missing = []
    for batch in batches:
        body = bodies.get(batch.number)
        if body is None or not _files_present(body, data_keys):
            missing.append(batch.number)
            continue
        written, not_found = written + _written(body, batch), not_found + _skipped(body)
    gap, reason = _last_gap(plan)
    removed = await read_removed(lake, plan.date, plan.genre) if plan.kind is Kind.MOVIES else None
    cursor = await read_cursor(lake, plan.kind, plan.genre)
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
    )


def _unplanned_collections(plans: list[Plan], datasets: list[TmdbStatus]) -> list[TmdbStatus]:
    """A row for each genre whose movies are all in, whose runs asked for collections
    (recorded in the movie plan's history), and which has no collection plan."""
    planned = {p.genre for p in plans if p.kind is Kind.COLLECTIONS}
    rows = []
    for plan, movies in zip(plans, datasets, strict=True):
        if plan.kind is not Kind.MOVIES or plan.genre in planned or not movies.complete:
            continue
        if any(entry.get("collections") is True for entry in plan.history):
            rows.append(
                TmdbStatus(
                    genre=plan.genre,
                    kind=Kind.COLLECTIONS,
                    refresh=plan.refresh,
                    planned=0,
                    written=0,
                    not_found=0,
                    batches=0,
                    missing_batches=(),
                    removed=0,
                    gap=None,
                    gap_reason=None,
                    cursor=None,
                    plan_id=None,
                )
            )
    return rows


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


def _files_present(body: dict[str, Any], data_keys: set[str]) -> bool:
    # done_batches checks a batch's first file; a batch cut in pieces (over 10 MB) has more.
    files = body.get("files")
    return not isinstance(files, list) or all(f in data_keys for f in files)


def _written(body: dict[str, Any], batch: Batch) -> int:
    written = body.get("written")
    # A marker whose body cannot be read still says the batch is done; count its ids.
    return written if isinstance(written, int) else len(batch.ids)


def _skipped(body: dict[str, Any]) -> int:
    skipped = body.get("skipped")
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
