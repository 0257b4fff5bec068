"""The worker pool: one TaskGroup per fetch of a plan's batches::

    feeder --work queue--> N workers --results queue--> batching sink --> lake

Both queues are bounded, so a slow lake slows the workers and the workers slow the feeder.
The feeder checks, before each batch and never in the middle of one, whether to go on: not
after a stop, not once ``MAX_FAILED_BATCHES`` have failed, not once TMDB is unreachable.
A record whose retries run out fails its batch (nothing of it is written); the others go on.
So does a batch whose records are not all back within ``[tmdb] batch_budget_s`` of its
start, retries included: its records still out are cut, and the batch fails.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence

import structlog

from ingest.errors import Interrupted, RunError, SkippedRecord
from ingest.lake import Lake
from ingest.reports.counts import TmdbStats
from ingest.reports.progress import Progress
from ingest.state.dataset import PlanRef
from ingest.state.plan import Batch
from ingest.stop import Stop
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.collections import collection_of
from ingest.tmdb.files import as_line
from ingest.tmdb.media import source_of
from ingest.tmdb.sink import BatchInAssembly, BatchSink, FetchTally, RecordResult, WorkItem
from ingest.tmdb.verdicts import same_id

log = structlog.get_logger(__name__)

# After this many failed batches TMDB is taken to be failing: no new batch is started.
MAX_FAILED_BATCHES = 3


# Batches partly fetched at once, at most.
MAX_BATCHES_ASSEMBLING = 2
# With no answer for this long, the progress line is redrawn to say so.
_STALL_REDRAW_S = 1.0


class BatchPool:
    """Fetch ``todo`` (batches of ``plan``) with ``workers`` workers; ``run`` once."""

    def __init__(
        self,
        lake: Lake,
        client: TmdbClient,
        stats: TmdbStats,
        stop: Stop,
        plan: PlanRef,
        *,
        workers: int,
        progress: bool,
    ) -> None:
        self._client = client
        self._stats = stats
        self._stop = stop
        self._plan = plan
        self._workers = workers
        self._progress = progress
        self.tally = FetchTally()
        self._sink = BatchSink(lake, plan, stats, self.tally)
        self._work: asyncio.Queue[WorkItem | None] = asyncio.Queue(maxsize=2 * workers)
        self._results: asyncio.Queue[RecordResult | None] = asyncio.Queue(maxsize=2 * workers)
        # Batches started and not finished yet, by number; set whenever one leaves.
        self._assembling: dict[int, BatchInAssembly] = {}
        self._batch_left = asyncio.Event()
        source = source_of(plan.dataset.kind)
        self._path = source.details
        # The plan's own list, so every batch of it (a worker's too) fetches the same.
        self._params = {"append_to_response": ",".join(plan.append)} if plan.append else None
        # For the progress line: the rate since the start, and when the last answer came.
        self._started = self._last_answer = time.monotonic()
        self._requests_at_start = stats.requests

    async def run(
        self, todo: Sequence[Batch] | AsyncIterable[Batch], *, batches: int | None = None
    ) -> FetchTally:
        """Fetch ``todo``: a list, or batches read as they are needed (``batches`` of
        them), so a plan of any size streams through one pool that never drains on the way."""
        stream: AsyncIterable[Batch]
        if isinstance(todo, Sequence):
            records: int | None = sum(len(b.ids) for b in todo)
            count, stream = len(todo), _stream(todo)
        elif batches is None:
            raise TypeError("a stream of batches needs batches=, their count (what a stop leaves)")
        else:
            records, count, stream = None, batches, todo
        bar = Progress(
            f"{self._plan.dataset.name} {self._plan.dataset.kind}", records, enabled=self._progress
        )
        bar.save(0)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._feed(stream, count))
                for _ in range(self._workers):
                    tg.create_task(self._fetch_records())
                ticker = tg.create_task(self._tick(bar))
                tg.create_task(self._drain(bar, ticker))
        finally:
            bar.close()
            # Records of batches that never became whole (a stop, Ctrl-C) are not kept.
            unsaved = sum(len(b.batch.ids) - b.pending for b in self._assembling.values())
            self._stats.unsaved += unsaved
            if unsaved:
                log.info(
                    "fetched_not_saved",
                    kind=self._plan.dataset.kind,
                    genre=self._plan.dataset.name,
                    records=unsaved,
                )
        return self.tally

    def _why_not_go_on(self) -> str | None:
        if self._stop.requested:
            return self._stop.reason
        if self._client.unreachable:
            return "TMDB unreachable"
        if self.tally.failed_batches >= MAX_FAILED_BATCHES:
            return "too many failed batches"
        return None

    async def _feed(self, todo: AsyncIterable[Batch], count: int) -> None:
        n = 0
        async for batch in todo:
            # Only between batches: a started batch is always fed whole.
            if (why := self._why_not_go_on()) is not None:
                self.tally.left_for_rerun += count - n
                log.info(
                    "feeding_stopped",
                    kind=self._plan.dataset.kind,
                    genre=self._plan.dataset.name,
                    reason=why,
                    batches_left=count - n,
                )
                break
            n += 1
            # In plan order, at most two batches partly fetched: what a stop loses (records
            # are kept only in whole batches) stays under two batches' worth.
            while len(self._assembling) >= MAX_BATCHES_ASSEMBLING:
                self._batch_left.clear()
                await self._batch_left.wait()
            self._assembling[batch.number] = BatchInAssembly(batch)
            deadline = asyncio.get_running_loop().time() + self._client.batch_budget_s
            for i, item_id in enumerate(batch.ids):
                await self._work.put(WorkItem(batch.number, i, item_id, deadline))
        # Not in a `finally`: when the group is cancelled nobody drains the queue.
        for _ in range(self._workers):
            await self._work.put(None)

    async def _fetch_records(self) -> None:
        while (item := await self._work.get()) is not None:
            await self._results.put(await self._fetch_record(item))
        await self._results.put(None)

    async def _fetch_record(self, item: WorkItem) -> RecordResult:
        try:
            # An answer for another id (a swapped body, an id of another type) is a failed
            # attempt: a record is never stored under an id it was not fetched for.
            path = self._path.format(item.id)
            async with asyncio.timeout_at(item.deadline):
                reply = await self._client.get(path, self._params, item_id=item.id, check=same_id(item.id))
        except TimeoutError:
            budget = self._client.batch_budget_s
            why = f"batch {item.batch} ran out of its {budget:g} s ([tmdb] batch_budget_s) at id {item.id}"
            return RecordResult(item, error=why)
        except SkippedRecord:
            return RecordResult(item)
        except Interrupted:
            return RecordResult(item, interrupted=True)
        except RunError as exc:
            # Retries ran out (or TMDB refused it for good): this batch fails, others go on.
            return RecordResult(item, error=str(exc))
        return RecordResult(item, as_line(reply.body, reply.data), collection_of(reply.data))

    async def _tick(self, bar: Progress) -> None:
        """A stall must show: with no answer for a while, the line is redrawn to say so."""
        while True:
            await asyncio.sleep(_STALL_REDRAW_S)
            quiet_s = time.monotonic() - self._last_answer
            if quiet_s >= _STALL_REDRAW_S:
                bar.extra = self._extra(quiet_s)
                bar.redraw()

    async def _drain(self, bar: Progress, ticker: asyncio.Task[None]) -> None:
        running = self._workers
        while running:
            result = await self._results.get()
            self._last_answer = time.monotonic()
            if result is None:
                running -= 1
                continue
            batch = self._assembling[result.item.batch]
            self._sink.add(batch, result)
            bar.advance()
            if batch.pending == 0:
                del self._assembling[result.item.batch]
                self._batch_left.set()
                await self._sink.finish(batch)
                if batch.error is None and not batch.interrupted:
                    bar.save(len(batch.batch.ids))
                bar.extra = self._extra(0.0)
        ticker.cancel()

    def _extra(self, quiet_s: float) -> str:
        # Over whole seconds: the limiter allows its rate in any one-second window, so a
        # burst at the start over a fraction of a second would read as more than the limit.
        elapsed = max(math.ceil(time.monotonic() - self._started), 1)
        rate = (self._stats.requests - self._requests_at_start) / elapsed
        text = f"{rate:.0f} req/s, {self._stats.throttled} 429s"
        if self._client.retrying:
            text += f", {self._client.retrying} retrying"
        if quiet_s >= _STALL_REDRAW_S:
            text += f", no answer for {quiet_s:.0f} s"
        return text


async def _stream(batches: Iterable[Batch]) -> AsyncIterator[Batch]:
    for batch in batches:
        yield batch
