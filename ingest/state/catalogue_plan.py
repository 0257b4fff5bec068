"""The catalogue's plan: a million ids or so, frozen in the lake in chunks, never rewritten.

A genre's plan is one ``plan.json``; the catalogue's would be a 10 MB object, rewritten
by nobody but read whole by every worker. So it is a small header and chunks, under
``_ingest/YYYY/MM/DD/tmdb/<kind>-catalogue/``:

- ``catalogue.json``: the header (plan id, how many ids, the export it was read from, full
  or incremental and the counts behind an increment). Created once, like a genre's first
  plan: of planners racing, one header wins and the others adopt it.
- ``ids-<plan_id>/NNNNN.json``: the ids to fetch, in order (most popular first),
  ``CHUNK_IDS`` a chunk (100 batches): batch *i* is ids ``100(i-1)+1 .. 100i`` of the whole.
- ``members-<plan_id>/NNNNN.json`` (incremental plans only): every id of the day's export,
  the snapshot the next day diffs against; a full plan's members are its ids.
- ``removed-<plan_id>.json`` (incremental plans only): the ids of the previous snapshot
  that the export no longer lists.

Chunks are written before the header, under the plan's id, so a header always points at
chunks that exist, and a losing planner's chunks are never read. Batches and done-markers
are ``ingest.state.plan``'s and ``ingest.state.markers``': the plan is a ``PlanRef`` of a
``CatalogueDataset``, whose markers and files have the same names and rules as a genre's
(the files are numbered on six digits).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ingest.errors import LakeError
from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.state.dataset import CATALOGUE, CatalogueDataset
from ingest.state.plan import BATCH_SIZE, Batch
from ingest.state.versions import CURRENT, upgrade

CHUNK_IDS = 100 * BATCH_SIZE
_WRITES_IN_FLIGHT = 8
# Shared by every batch shape: a batch's size is all ``batches_in_lake`` reads of its ids.
_SHAPE = (0,) * BATCH_SIZE


@dataclass(frozen=True, slots=True)
class CataloguePlan:
    kind: Kind
    date: dt.date
    count: int
    # The export the ids were read from: its file name, date, and whether it was the day before's.
    export: dict[str, Any]
    include_adult: bool = False
    plan_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    # "full": every id of the export; "incremental": changed or new since ``increment["since"]``.
    refresh: str = "full"
    # The ids the export listed (after the adult filter): the day's snapshot.
    members: int = 0
    # Incremental plans: the window and the counts (changed, new, removed).
    increment: dict[str, Any] | None = None
    # The sub-resources its records were fetched with (``[tmdb] append``; format 2).
    append: tuple[str, ...] = ()

    @property
    def chunks(self) -> int:
        return -(-self.count // CHUNK_IDS)

    @property
    def members_chunks(self) -> int:
        return -(-self.members // CHUNK_IDS) if self.refresh != "full" else self.chunks

    @property
    def batch_count(self) -> int:
        return -(-self.count // BATCH_SIZE)

    @property
    def dataset(self) -> CatalogueDataset:
        return CatalogueDataset(self.kind)

    def shapes(self) -> list[Batch]:
        """Every batch, by number and size only: what ``batches_in_lake`` needs."""
        last = self.count - (self.batch_count - 1) * BATCH_SIZE
        return [
            Batch(n, _SHAPE if n < self.batch_count else _SHAPE[:last])
            for n in range(1, self.batch_count + 1)
        ]

    def to_json(self) -> bytes:
        body = {
            "version": CURRENT["catalogue_plan"],
            "kind": self.kind,
            "dataset": CATALOGUE,
            "date": self.date.isoformat(),
            "plan_id": self.plan_id,
            "batch_size": BATCH_SIZE,
            "chunk_ids": CHUNK_IDS,
            "count": self.count,
            "chunks": self.chunks,
            "members": self.members,
            "refresh": self.refresh,
            "include_adult": self.include_adult,
            "export": self.export,
            "increment": self.increment,
            "append": list(self.append),
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_json(cls, data: bytes, key: str) -> CataloguePlan:
        try:
            d = upgrade("catalogue_plan", key, orjson.loads(data))
            if d["chunk_ids"] != CHUNK_IDS or d["batch_size"] != BATCH_SIZE:
                raise ValueError(f"chunks of {d['chunk_ids']} ids, batches of {d['batch_size']}")
            return cls(
                kind=Kind(d["kind"]),
                date=dt.date.fromisoformat(d["date"]),
                count=int(d["count"]),
                export=dict(d["export"]),
                include_adult=bool(d["include_adult"]),
                plan_id=str(d["plan_id"]),
                refresh=str(d["refresh"]),
                members=int(d["members"]),
                increment=d.get("increment"),
                append=tuple(str(a) for a in d["append"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise LakeError(
                f"catalogue plan {key} is unreadable ({type(exc).__name__}: {exc}); delete it to plan again"
            ) from None


def header_key(date: dt.date, kind: Kind) -> str:
    return CatalogueDataset(kind).state(date) + "catalogue.json"


def chunk_key(plan: CataloguePlan, what: str, number: int) -> str:
    return plan.dataset.state(plan.date) + f"{what}-{plan.plan_id}/{number:05d}.json"


def removed_key(plan: CataloguePlan) -> str:
    return plan.dataset.state(plan.date) + f"removed-{plan.plan_id}.json"


async def load_plan(lake: Lake, date: dt.date, kind: Kind) -> CataloguePlan | None:
    key = header_key(date, kind)
    data = await lake.read(key)
    return None if data is None else CataloguePlan.from_json(data, key)


async def freeze(
    lake: Lake, plan: CataloguePlan, ids: array[int], members: array[int] | None, removed: Iterable[int] = ()
) -> CataloguePlan:
    """Write the plan's chunks, then create its header; return the plan that won."""
    await _write_chunks(lake, plan, "ids", ids)
    if members is not None:
        await _write_chunks(lake, plan, "members", members)
        body = {"plan_id": plan.plan_id, "ids": list(removed)}
        await lake.write(removed_key(plan), orjson.dumps(body))
    key = header_key(plan.date, plan.kind)
    if await lake.create(key, plan.to_json()):
        return plan
    winner = await lake.read(key)
    if winner is None:
        raise LakeError(f"catalogue plan {key} was created by another run but cannot be read back; rerun")
    return CataloguePlan.from_json(winner, key)


async def _write_chunks(lake: Lake, plan: CataloguePlan, what: str, ids: array[int]) -> None:
    gate = asyncio.Semaphore(_WRITES_IN_FLIGHT)

    async def write(number: int) -> None:
        start = (number - 1) * CHUNK_IDS
        async with gate:
            await lake.write(
                chunk_key(plan, what, number), orjson.dumps(ids[start : start + CHUNK_IDS].tolist())
            )

    async with asyncio.TaskGroup() as tg:
        for number in range(1, -(-len(ids) // CHUNK_IDS) + 1):
            tg.create_task(write(number))


async def read_chunk(lake: Lake, plan: CataloguePlan, what: str, number: int) -> array[int]:
    key = chunk_key(plan, what, number)
    data = await lake.read(key)
    if data is None:
        raise LakeError(
            f"catalogue plan chunk {key} is missing; delete {header_key(plan.date, plan.kind)} to plan again"
        )
    try:
        return array("l", orjson.loads(data))
    except (orjson.JSONDecodeError, TypeError, OverflowError) as exc:
        raise LakeError(
            f"catalogue plan chunk {key} is unreadable ({exc}); delete the plan to plan again"
        ) from None


async def read_members(lake: Lake, plan: CataloguePlan) -> array[int]:
    """The plan's snapshot: every id the export listed, in the plan's order."""
    what = "ids" if plan.refresh == "full" else "members"
    members: array[int] = array("l")
    for number in range(1, plan.members_chunks + 1):
        members.extend(await read_chunk(lake, plan, what, number))
    return members


async def batches_of_chunk(lake: Lake, plan: CataloguePlan, number: int, wanted: set[int]) -> list[Batch]:
    """The batches of chunk ``number`` whose numbers are in ``wanted``, with their ids."""
    ids = await read_chunk(lake, plan, "ids", number)
    first = (number - 1) * (CHUNK_IDS // BATCH_SIZE) + 1
    out = []
    for i in range(0, len(ids), BATCH_SIZE):
        n = first + i // BATCH_SIZE
        if n in wanted:
            out.append(Batch(n, tuple(ids[i : i + BATCH_SIZE])))
    return out


def batch_of(plan: CataloguePlan, chunk: array[int], number: int) -> Batch:
    """Batch ``number`` out of the chunk that holds it."""
    start = ((number - 1) * BATCH_SIZE) % CHUNK_IDS
    return Batch(number, tuple(chunk[start : start + BATCH_SIZE]))


def chunk_of(batch_number: int) -> int:
    return 1 + (batch_number - 1) * BATCH_SIZE // CHUNK_IDS


async def removed_ids(lake: Lake, plan: CataloguePlan) -> list[int]:
    """The ids an incremental plan recorded as removed (none for a full plan)."""
    data = await lake.read(removed_key(plan)) if plan.refresh != "full" else None
    if data is None:
        return []
    try:
        return [int(i) for i in orjson.loads(data)["ids"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise LakeError(f"{removed_key(plan)} is unreadable; delete the plan to plan again") from None
