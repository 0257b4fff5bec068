"""Done-markers: which batches of a plan are in the lake. This module owns a marker's name
and body; nothing else reads or writes them.

When a batch's file(s) are written, a marker follows under ``done/``, named for the
batch number, the number of ids it was fetched for, the records written, the number of
files and the plan's id: ``00003-n100-w98-f1-<plan_id>.done`` (the body, ``DoneMarker``,
lists the files, the skipped ids and, for movies, the collections seen). A batch is *in
the lake* when a marker with its current number of ids and the current plan id exists
and every file it names exists (``batches_in_lake``: the one definition, used by the
crawler, the queue and ``status`` alike). So a short last batch of an older, smaller plan
is fetched again (and overwritten) once the plan has grown, a batch killed before its
marker is redone (same keys, same records), and a data file deleted by hand (any piece of
a batch cut in several files) is fetched again. Deleting
``plan.json`` starts the dataset over: the new plan has a new id, and no old marker
counts for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.lake import Lake
from ingest.lake.keys import number_digits, tmdb_key, tmdb_prefix
from ingest.lake.listing import Listing
from ingest.tmdb.files import file_number
from ingest.tmdb.plan import Batch, Plan, dataset_prefix

# Markers before the file count was in the name (``-f<files>``) name one file, or none.
_MARKER = re.compile(r"(\d{5})-n(\d+)-w(\d+)(?:-f(\d+))?-([0-9a-f]+)\.done$")


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


async def write_marker(lake: Lake, plan: Plan, marker: DoneMarker) -> None:
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
    body = await lake.read(key)
    if body is None:
        return None
    try:
        found = orjson.loads(body)[name]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return found if isinstance(found, list) else None


def marker_key(plan: Plan, batch: Batch, written: int, files: int) -> str:
    name = f"{batch.number:05d}-n{len(batch.ids)}-w{written}-f{files}-{plan.plan_id}.done"
    return dataset_prefix(plan.date, plan.kind, plan.genre) + "done/" + name


async def batch_markers(lake: Lake, plan: Plan) -> dict[int, list[str]]:
    """Every marker of ``plan``'s batches (at their current size), by batch number: more
    than one when runs of the same date wrote the same batch at once, each from its own
    answers (one saw a 404 where the other got the movie)."""
    sizes = {b.number: len(b.ids) for b in plan.batches(len(plan.ids))}
    found: dict[int, list[str]] = {}
    for key in await lake.list(dataset_prefix(plan.date, plan.kind, plan.genre) + "done/"):
        m = _MARKER.search(key)
        if m and m.group(5) == plan.plan_id and sizes.get(int(m.group(1))) == int(m.group(2)):
            found.setdefault(int(m.group(1)), []).append(key)
    return found


async def batches_in_lake(
    lake: Lake, plan: Plan, batches: Sequence[Batch], listing: Listing | None = None
) -> dict[int, str]:
    """The batches (of ``batches``) in the lake: number -> marker key. A batch is in the
    lake when its marker (this plan, this many ids) exists and so does every file the
    marker names. Two listings, whatever the number of batches (none of its own when
    ``listing`` holds them already: ``status``); a marker of the old form (no file count in
    its name) is read for its list of files."""
    listing = listing or Listing(lake)
    prefix = dataset_prefix(plan.date, plan.kind, plan.genre) + "done/"
    markers: dict[tuple[int, int], tuple[str, int, int | None]] = {}
    for key in await listing.keys(prefix):
        m = _MARKER.search(key)
        if m and m.group(5) == plan.plan_id:
            files = None if m.group(4) is None else int(m.group(4))
            markers[(int(m.group(1)), int(m.group(2)))] = (key, int(m.group(3)), files)
    data_keys = set(await listing.keys(f"{tmdb_prefix(plan.kind, plan.date)}{plan.genre}-"))
    done = {}
    for b in batches:
        found = markers.get((b.number, len(b.ids)))
        if found is None:
            continue
        key, written, files = found
        if written == 0 or await _files_in_lake(lake, plan, b, key, files, data_keys):
            done[b.number] = key
    return done


async def _files_in_lake(
    lake: Lake, plan: Plan, batch: Batch, marker: str, files: int | None, data_keys: set[str]
) -> bool:
    if files is None:
        listed = await _marker_list(lake, marker, "files")
        names = listed if listed is not None else [tmdb_key(plan.kind, plan.date, plan.genre, batch.number)]
        return all(str(n) in data_keys for n in names)
    numbers = (file_number(batch.number, piece, number_digits(plan.genre)) for piece in range(1, files + 1))
    return all(tmdb_key(plan.kind, plan.date, plan.genre, n) in data_keys for n in numbers)


async def missing_batches(lake: Lake, plan: Plan, target: int) -> list[Batch]:
    """The batches of ``plan``'s first ``target`` ids that are not in the lake."""
    batches = plan.batches(target)
    done = await batches_in_lake(lake, plan, batches)
    return [b for b in batches if b.number not in done]
