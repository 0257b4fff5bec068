"""How a genre's collection ids are gathered: the distinct ``belongs_to_collection`` ids of
its planned movies, in plan order.

A batch fetched in this run gives them straight from its answers; a batch already in the
lake from its done-marker; and a batch whose marker is unreadable or lists none from its
own files, read back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ingest.lake import Lake
from ingest.state.markers import batches_in_lake, read_marker_collections
from ingest.state.plan import Batch, Plan

# Markers or files read at once.
_READS_IN_FLIGHT = 8


def collection_of(data: Any) -> int | None:
    """The collection id of one movie record, or None when it belongs to none."""
    ref = data.get("belongs_to_collection") if isinstance(data, dict) else None
    if isinstance(ref, dict) and isinstance(ref.get("id"), int):
        return int(ref["id"])
    return None


async def collection_ids(
    lake: Lake, movies: Plan, target: int, known: Mapping[int, Sequence[int]]
) -> list[int]:
    """Distinct collection ids of ``movies``' first ``target`` ids, in plan order;
    ``known`` holds those of batches fetched in this run (batch number -> ids)."""
    batches = movies.batches(target)
    markers = await batches_in_lake(lake, movies, batches)
    per_batch: dict[int, Sequence[int]] = dict(known)
    gate = asyncio.Semaphore(_READS_IN_FLIGHT)

    async def read(batch: Batch) -> None:
        async with gate:
            marker = markers.get(batch.number)
            found = None if marker is None else await read_marker_collections(lake, marker)
            if found is None:
                found = await _from_files(lake, movies, batch)
            per_batch[batch.number] = found

    async with asyncio.TaskGroup() as tg:
        for b in batches:
            if b.number not in per_batch:
                tg.create_task(read(b))
    ordered = (cid for b in batches for cid in per_batch.get(b.number, ()))
    return list(dict.fromkeys(ordered))


async def _from_files(lake: Lake, plan: Plan, batch: Batch) -> list[int]:
    """The collection ids in a batch's own files (every piece of it), in order."""
    ids: list[int] = []
    piece = 1
    while (data := await lake.read(_piece_key(plan, batch, piece))) is not None:
        for line in data.splitlines():
            if line.strip():
                cid = collection_of(orjson.loads(line))
                if cid is not None:
                    ids.append(cid)
        piece += 1
    return ids


def _piece_key(plan: Plan, batch: Batch, piece: int) -> str:
    return plan.dataset.file_key(plan.date, plan.dataset.file_number(batch.number, piece))
