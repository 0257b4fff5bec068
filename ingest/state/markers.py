"""Done-markers: which batches of a plan are in the lake. This module owns a marker's name
and body; nothing else reads or writes them.

When a batch's file(s) are written, a marker follows under ``done/``, named for the
batch number, the number of ids it was fetched for, the records written, the number of
files and the plan's id: ``00003-n100-w98-f1-<plan_id>.done`` (the body, ``DoneMarker``,
lists the files, the skipped ids and, for movies, the collections seen). A batch is *in
the lake* when a marker with its current number of ids and the current plan id exists
and every file it names exists (``batches_in_lake``: the one definition, used by the
crawler, the queue and ``status`` alike, for a genre's datasets and the catalogue's). So a
short last batch of an older, smaller plan is fetched again (and overwritten) once the
plan has grown, a batch killed before its marker is redone (same keys, same records), and
a data file deleted by hand (any piece of a batch cut in several files) is fetched again.
Deleting the plan starts the dataset over: the new plan has a new id, and no old marker
counts for it.

A marker name of format version 1 (``ingest.state.versions``) had no file count: it is
read as "the files its body lists", by its own parser, not by an optional group here.

The whole catalogue's hundred-odd thousand batches are also counted in hundreds: the
worker that lands a batch creates ``hundreds-<plan>/HHH`` once its hundred is all in, so
whether the whole plan is in takes two listings (``hundred_done``, ``all_hundreds_done``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.lake import Lake
from ingest.state.dataset import PlanRef
from ingest.state.listing import Listing
from ingest.state.plan import Batch, Plan

_NAME_V2 = re.compile(r"(\d{5})-n(\d+)-w(\d+)-f(\d+)-([0-9a-f]+)\.done$")
_NAME_V1 = re.compile(r"(\d{5})-n(\d+)-w(\d+)-([0-9a-f]+)\.done$")
# Marker bodies read at once: enough to hide S3 latency, few enough to stay polite.
_READS_IN_FLIGHT = 16
_HUNDRED = 100


@dataclass(frozen=True, slots=True)
class MarkerName:
    """What a marker's name says: which batch of which plan, of how many ids, how many
    records written, in how many files (None: a version-1 name; its body lists them)."""

    key: str
    batch: int
    ids: int
    written: int
    files: int | None
    plan_id: str

    @property
    def not_found(self) -> int:
        """Ids the batch was fetched for that TMDB no longer had (or set apart)."""
        return self.ids - self.written


def parse_name(key: str) -> MarkerName | None:
    m = _NAME_V2.search(key)
    if m:
        return MarkerName(key, int(m[1]), int(m[2]), int(m[3]), int(m[4]), m[5])
    m = _NAME_V1.search(key)
    if m:
        return MarkerName(key, int(m[1]), int(m[2]), int(m[3]), None, m[4])
    return None


@dataclass(frozen=True, slots=True)
class DoneMarker:
    """A batch that is in the lake: its name says which batch, for which plan, how many
    records; its body says where they are and what the collections stage needs."""

    batch: Batch
    written: int
    skipped: tuple[int, ...]
    files: tuple[str, ...]
    # Movies: the distinct collection ids of the batch's records, in plan order.
    collections: tuple[int, ...] | None = None
    # Ids whose record was over a file's cap: noted apart, not in the files.
    oversized: tuple[int, ...] = ()

    def body(self) -> bytes:
        data: dict[str, Any] = {
            "batch": self.batch.number,
            "ids": len(self.batch.ids),
            "written": self.written,
            "skipped": list(self.skipped),
            "files": list(self.files),
        }
        if self.collections is not None:
            data["collections"] = list(self.collections)
        if self.oversized:
            data["oversized"] = list(self.oversized)
        return orjson.dumps(data)


@dataclass(frozen=True, slots=True)
class MarkerBody:
    """What status reads of a marker's body (an unreadable body: the name's counts)."""

    written: int | None
    skipped: int
    oversized: int


def _done(plan: PlanRef) -> str:
    return plan.dataset.state(plan.date) + "done/"


def marker_key(plan: PlanRef, batch: Batch, written: int, files: int) -> str:
    return f"{_done(plan)}{batch.number:05d}-n{len(batch.ids)}-w{written}-f{files}-{plan.plan_id}.done"


async def write_marker(lake: Lake, plan: PlanRef, marker: DoneMarker) -> None:
    await lake.write(marker_key(plan, marker.batch, marker.written, len(marker.files)), marker.body())


async def read_marker_collections(lake: Lake, key: str) -> list[int] | None:
    """The collection ids a movie batch's marker lists; None when the marker is gone, is
    unreadable or has no list (the caller then reads the batch's files)."""
    return await _marker_ids(lake, key, "collections")


async def read_marker_skipped(lake: Lake, key: str) -> list[int] | None:
    """The ids a batch's marker lists as skipped (TMDB answered 404); None as above."""
    return await _marker_ids(lake, key, "skipped")


async def _marker_ids(lake: Lake, key: str, name: str) -> list[int] | None:
    found = await _marker_list(lake, key, name)
    try:
        return None if found is None else [int(c) for c in found]
    except (TypeError, ValueError):
        return None


async def _marker_list(lake: Lake, key: str, name: str) -> list[Any] | None:
    body = _object(await lake.read(key))
    found = body.get(name)
    return found if isinstance(found, list) else None


def _object(data: bytes | None) -> dict[str, Any]:
    try:
        value = orjson.loads(data) if data is not None else None
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


async def read_bodies(lake: Lake, done: dict[int, str]) -> dict[int, MarkerBody]:
    """The bodies of the markers ``done`` names (batch number -> marker key), read at once."""
    bodies: dict[int, MarkerBody] = {}
    gate = asyncio.Semaphore(_READS_IN_FLIGHT)

    async def read(number: int, key: str) -> None:
        async with gate:
            body = _object(await lake.read(key))
        written = body.get("written")
        bodies[number] = MarkerBody(
            written if isinstance(written, int) else None, _count(body, "skipped"), _count(body, "oversized")
        )

    async with asyncio.TaskGroup() as tg:
        for number, key in done.items():
            tg.create_task(read(number, key))
    return bodies


def _count(body: dict[str, Any], name: str) -> int:
    found = body.get(name)
    return len(found) if isinstance(found, list) else 0


async def batch_markers(lake: Lake, plan: Plan) -> dict[int, list[str]]:
    """Every marker of ``plan``'s batches (at their current size), by batch number: more
    than one when runs of the same date wrote the same batch at once, each from its own
    answers (one saw a 404 where the other got the movie)."""
    sizes = {b.number: len(b.ids) for b in plan.batches(len(plan.ids))}
    found: dict[int, list[str]] = {}
    for key in await lake.list(_done(plan)):
        name = parse_name(key)
        if name and name.plan_id == plan.plan_id and sizes.get(name.batch) == name.ids:
            found.setdefault(name.batch, []).append(key)
    return found


async def batches_in_lake(
    lake: Lake, plan: PlanRef, batches: Sequence[Batch], listing: Listing | None = None
) -> dict[int, str]:
    """The batches (of ``batches``) in the lake: number -> marker key. A batch is in the
    lake when its marker (this plan, this many ids) exists and so does every file the
    marker names. Two listings, whatever the number of batches (none of its own when
    ``listing`` holds them already: ``status``); a version-1 marker is read for its list
    of files."""
    listing = listing or Listing(lake)
    markers: dict[tuple[int, int], MarkerName] = {}
    for key in await listing.keys(_done(plan)):
        name = parse_name(key)
        if name and name.plan_id == plan.plan_id:
            markers[(name.batch, name.ids)] = name
    data_keys = set(await listing.keys(plan.dataset.data_prefix(plan.date)))
    done = {}
    for b in batches:
        found = markers.get((b.number, len(b.ids)))
        if found is None:
            continue
        if found.written == 0 or await _files_in_lake(lake, plan, b, found, data_keys):
            done[b.number] = found.key
    return done


def written_in(done: dict[int, str]) -> tuple[int, int]:
    """Records written and ids not found over the markers ``done`` names, from their names."""
    written = not_found = 0
    for key in done.values():
        name = parse_name(key)
        if name:
            written += name.written
            not_found += name.not_found
    return written, not_found


async def _files_in_lake(
    lake: Lake, plan: PlanRef, batch: Batch, marker: MarkerName, data_keys: set[str]
) -> bool:
    if marker.files is None:
        listed = await _marker_list(lake, marker.key, "files")
        names = listed if listed is not None else [plan.dataset.file_key(plan.date, batch.number)]
        return all(str(n) in data_keys for n in names)
    numbers = (plan.dataset.file_number(batch.number, piece) for piece in range(1, marker.files + 1))
    return all(plan.dataset.file_key(plan.date, n) in data_keys for n in numbers)


async def batch_done(lake: Lake, plan: PlanRef, batch: Batch) -> bool:
    """Whether ``batch`` has a marker of this plan and its first file: from one listing of
    the batch's own markers and one stat (a catalogue worker's check, for one batch of a
    hundred thousand)."""
    stem = f"{_done(plan)}{batch.number:05d}-n{len(batch.ids)}-"
    names = [n for k in await lake.list(stem) if (n := parse_name(k)) and n.plan_id == plan.plan_id]
    if not names:
        return False
    if names[0].written == 0:
        return True
    return await lake.stat(plan.dataset.file_key(plan.date, batch.number)) is not None


def _hundreds(plan: PlanRef) -> str:
    return plan.dataset.state(plan.date) + f"hundreds-{plan.plan_id}/"


async def hundred_done(lake: Lake, plan: PlanRef, number: int, batch_count: int) -> bool:
    """Whether every batch of the hundred that holds batch ``number`` is marked done (one
    listing); if so, say so once under ``hundreds-<plan>/``."""
    hundred = number // _HUNDRED
    first, last = max(1, hundred * _HUNDRED), min(batch_count, hundred * _HUNDRED + _HUNDRED - 1)
    keys = await lake.list(f"{_done(plan)}{hundred:03d}")
    landed = {n.batch for k in keys if (n := parse_name(k)) and n.plan_id == plan.plan_id}
    if not all(n in landed for n in range(first, last + 1)):
        return False
    await lake.create(f"{_hundreds(plan)}{hundred:03d}", b"")
    return True


async def all_hundreds_done(lake: Lake, plan: PlanRef, batch_count: int) -> bool:
    keys = await lake.list(_hundreds(plan))
    return len(keys) == batch_count // _HUNDRED + 1


async def missing_batches(lake: Lake, plan: Plan, target: int) -> list[Batch]:
    """The batches of a genre ``plan``'s first ``target`` ids that are not in the lake."""
    batches = plan.batches(target)
    done = await batches_in_lake(lake, plan, batches)
    return [b for b in batches if b.number not in done]
