"""The batching sink: records arrive in any order, batches leave whole, in plan order.

A ``BatchInAssembly`` holds one batch's slots until every record of it has come back
(fetched, skipped as a 404, or failed). Then ``BatchSink.finish`` writes the batch's
file(s) (``ingest.tmdb.files``) and, after them, its done-marker (``ingest.state.markers``);
a batch with a failed record writes nothing, so the rerun fetches it whole. A record over
a file's cap is set apart (``ingest.state.oversized``) and the batch written without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.reports.counts import TmdbStats
from ingest.reports.progress import counted
from ingest.state.dataset import PlanRef
from ingest.state.markers import DoneMarker, write_marker
from ingest.state.oversized import note_oversized
from ingest.state.plan import Batch
from ingest.tmdb import files
from ingest.tmdb.files import pack

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One id to fetch, and where its record goes: batch number, slot in the batch."""

    batch: int
    index: int
    id: int
    # When the batch's time budget runs out (the event loop's clock), if it has one.
    deadline: float | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    item: WorkItem
    # The record's line, or None when it was skipped (404) or failed.
    line: bytes | None = None
    collection_id: int | None = None
    error: str | None = None
    # A stop cut the request short: the batch is left for the rerun, not failed.
    interrupted: bool = False


@dataclass(slots=True)
class FetchTally:
    """What one fetch of a plan's batches came to."""

    failed_batches: int = 0
    failed_items: int = 0
    first_error: str | None = None
    written_batches: int = 0
    records: int = 0
    # Batches not started (a stop, too many failures) or cut short by a stop.
    left_for_rerun: int = 0
    # Movies: the collection ids of each batch written, by batch number.
    collections: dict[int, list[int]] = field(default_factory=dict)

    def failures(self, genre: str, noun: str) -> list[str]:
        """What the run's final error says about this fetch, if any batch failed."""
        if not self.failed_batches:
            return []
        items = counted(self.failed_items, noun.removesuffix("s"), noun)
        return [
            f"{counted(self.failed_batches, 'batch', 'batches')} of {genre} {noun} failed "
            f"({items} did not come through; first: {self.first_error})"
        ]


class BatchInAssembly:
    """A batch whose records are coming back from the workers."""

    __slots__ = ("batch", "collections", "error", "interrupted", "lines", "pending", "skipped")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        # Slots in plan order: results arrive in any order, files keep the plan's.
        self.lines: list[bytes | None] = [None] * len(batch.ids)
        self.collections: list[int | None] = [None] * len(batch.ids)
        self.pending = len(batch.ids)
        self.skipped: list[int] = []
        self.error: str | None = None
        self.interrupted = False


class BatchSink:
    def __init__(self, lake: Lake, plan: PlanRef, stats: TmdbStats, tally: FetchTally) -> None:
        self._lake = lake
        self._plan = plan
        self._stats = stats
        self._tally = tally

    def add(self, batch: BatchInAssembly, result: RecordResult) -> None:
        """Put one record's result in its slot."""
        batch.pending -= 1
        if result.interrupted:
            batch.interrupted = True
        elif result.error is not None:
            batch.error = batch.error or result.error
            self._stats.failed += 1
        elif result.line is None:
            batch.skipped.append(result.item.id)
            self._stats.skipped += 1
            log.info(
                "record_skipped", kind=self._plan.dataset.kind, id=result.item.id, why="TMDB answered 404"
            )
        else:
            batch.lines[result.item.index] = result.line
            batch.collections[result.item.index] = result.collection_id

    async def finish(self, batch: BatchInAssembly) -> None:
        """Write a complete batch and its marker, or count it failed (or left for later)."""
        plan, tally = self._plan, self._tally
        if batch.interrupted:
            tally.left_for_rerun += 1
            return
        if batch.error is not None:
            tally.failed_batches += 1
            tally.first_error = tally.first_error or batch.error
            tally.failed_items += sum(1 for x in batch.lines if x is None) - len(batch.skipped)
            log.warning(
                "batch_failed",
                kind=plan.dataset.kind,
                genre=plan.dataset.name,
                batch=batch.batch.number,
                error=batch.error,
            )
            return
        oversized = await self._set_apart(batch)
        lines = [x for x in batch.lines if x is not None]
        keys, size = await self._write_files(batch.batch, lines)
        collections = None
        if plan.dataset.kind is Kind.MOVIES:
            collections = tuple(dict.fromkeys(c for c in batch.collections if c is not None))
            tally.collections[batch.batch.number] = list(collections)
            self._stats.written += len(lines)
        elif plan.dataset.kind is Kind.SERIES:
            self._stats.series_written += len(lines)
        else:
            self._stats.collections_written += len(lines)
        marker = DoneMarker(
            batch.batch, len(lines), tuple(batch.skipped), tuple(keys), collections, tuple(oversized)
        )
        await write_marker(self._lake, plan, marker)
        tally.written_batches += 1
        tally.records += len(lines)
        log.info(
            "batch_written",
            kind=plan.dataset.kind,
            genre=plan.dataset.name,
            batch=batch.batch.number,
            records=len(lines),
            skipped=len(batch.skipped),
            oversized=len(oversized),
            files=len(keys),
            bytes=size,
        )

    async def _set_apart(self, batch: BatchInAssembly) -> list[int]:
        """Take the records over a file's cap out of the batch, each noted in the
        lake's state (``ingest.state.oversized``); return their ids."""
        cap = files.MAX_FILE_BYTES
        apart = []
        for i, line in enumerate(batch.lines):
            if line is not None and len(line) > cap:
                item_id = batch.batch.ids[i]
                await note_oversized(self._lake, self._plan, batch.batch.number, item_id, len(line), cap)
                log.warning(
                    "record_oversized", kind=self._plan.dataset.kind, id=item_id, bytes=len(line), cap=cap
                )
                batch.lines[i] = None
                batch.collections[i] = None
                apart.append(item_id)
        self._stats.oversized += len(apart)
        return apart

    async def _write_files(self, batch: Batch, lines: list[bytes]) -> tuple[list[str], int]:
        plan = self._plan
        keys = []
        size = 0
        for piece, data in enumerate(pack(lines), start=1):
            key = plan.dataset.file_key(plan.date, plan.dataset.file_number(batch.number, piece))
            await self._lake.write(key, data)
            keys.append(key)
            size += len(data)
            self._stats.files += 1
            self._stats.bytes += len(data)
        return keys, size
