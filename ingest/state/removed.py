"""``removed.json``: the movies a genre lost in one partition, next to its plan.

``_ingest/YYYY/MM/DD/tmdb/movies-<genre>/removed.json`` is written once the date's movie
plan is entirely in the lake: the ids that left the genre since the previous complete run
(the plan's own ``increment``: the winning plan's, which every run of the date adopts) and
the planned ids TMDB answered 404 for (read from the batches' markers, every marker of a
batch; an id whose record is in the batch's files is live whatever a marker says, since
two runs that wrote one batch at once may each have left a marker). A reader of the Raw zone takes an
incremental partition as the changes since the previous one, minus these.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import orjson

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.state.dataset import GenreDataset
from ingest.state.markers import batch_markers, read_marker_skipped
from ingest.state.plan import Plan
from ingest.state.versions import CURRENT, upgrade

# Markers read at once.
_READS_IN_FLIGHT = 8


@dataclass(frozen=True, slots=True)
class Removed:
    left_genre: tuple[int, ...]
    not_found: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(set(self.left_genre) | set(self.not_found))

    def body(self, plan: Plan) -> bytes:
        data = {
            "version": CURRENT["removed"],
            "date": plan.date.isoformat(),
            "genre": plan.genre,
            "plan_id": plan.plan_id,
            "refresh": plan.refresh,
            "removed": self.count,
            "left_genre": list(self.left_genre),
            "not_found": list(self.not_found),
        }
        return orjson.dumps(data, option=orjson.OPT_INDENT_2)


def removed_key(date: dt.date, genre: str, kind: Kind = Kind.MOVIES) -> str:
    """``removed.json`` of a genre's movies (or series) for ``date``."""
    return GenreDataset(kind, slug=genre).state(date) + "removed.json"


async def record_removed(lake: Lake, plan: Plan) -> Removed:
    """Write the movie plan's ``removed.json`` (every batch of it is in the lake)."""
    left = tuple((plan.increment or {}).get("left_genre", ()))
    not_found: list[int] = []
    gate = asyncio.Semaphore(_READS_IN_FLIGHT)

    async def read(number: int, keys: list[str]) -> None:
        async with gate:
            skipped = {i for key in keys for i in await read_marker_skipped(lake, key) or ()}
            if skipped:
                # Two runs may have written this batch at once from different answers: a
                # 404 counts only if the record is not in the batch's files as they are.
                skipped -= await _ids_in_files(lake, plan, number)
            not_found.extend(skipped)

    async with asyncio.TaskGroup() as tg:
        for number, keys in (await batch_markers(lake, plan)).items():
            tg.create_task(read(number, keys))
    removed = Removed(tuple(int(i) for i in left), tuple(sorted(not_found)))
    await lake.write(removed_key(plan.date, plan.genre, plan.kind), removed.body(plan))
    return removed


async def _ids_in_files(lake: Lake, plan: Plan, batch: int) -> set[int]:
    """The ids of the records in a batch's files (every piece of it)."""
    ids: set[int] = set()
    piece = 1
    while (
        data := await lake.read(plan.dataset.file_key(plan.date, plan.dataset.file_number(batch, piece)))
    ) is not None:
        for line in data.splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and type(record.get("id")) is int:
                ids.add(record["id"])
        piece += 1
    return ids


async def read_removed(lake: Lake, date: dt.date, genre: str, kind: Kind = Kind.MOVIES) -> Removed | None:
    key = removed_key(date, genre, kind)
    data = await lake.read(key)
    if data is None:
        return None
    try:
        d = upgrade("removed", key, orjson.loads(data))
        return Removed(tuple(map(int, d["left_genre"])), tuple(map(int, d["not_found"])))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
