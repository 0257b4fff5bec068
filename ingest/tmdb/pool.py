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
import time
from collections.abc import Mapping, Sequence

import structlog

from ingest.errors import Interrupted, RunError, SkippedRecord
from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.progress import Progress
from ingest.report import TmdbStats
from ingest.stop import Stop
from ingest.tmdb.answers import same_id
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.collections import collection_of
from ingest.tmdb.files import as_line
from ingest.tmdb.plan import Batch, Plan
from ingest.tmdb.sink import BatchInAssembly, BatchSink, FetchTally, RecordResult, WorkItem

log = structlog.get_logger(__name__)

# After this many failed batches TMDB is taken to be failing: no new batch is started.
MAX_FAILED_BATCHES = 3
MOVIE_PARAMS: Mapping[str, str] = {"append_to_response": "keywords"}


class BatchPool:
    """Fetch ``todo`` (batches of ``plan``) with ``workers`` workers; ``run`` once."""

    def __init__(
        self,
        lake: Lake,
        client: TmdbClient,
        stats: TmdbStats,
        stop: Stop,
        plan: Plan,
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
        # Batches started and not finished yet, by number.
        self._assembling: dict[int, BatchInAssembly] = {}
        self._path = "/movie/{}" if plan.kind is Kind.MOVIES else "/collection/{}"
        self._params = MOVIE_PARAMS if plan.kind is Kind.MOVIES else None

    async def run(self, todo: Sequence[Batch]) -> FetchTally:
        bar = Progress(
            f"{self._plan.genre} {self._plan.kind}", sum(len(b.ids) for b in todo), enabled=self._progress
        )
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._feed(todo))
                for _ in range(self._workers):
                    tg.create_task(self._fetch_records())
                tg.create_task(self._drain(bar))
        finally:
            bar.close()
        return self.tally

    def _why_not_go_on(self) -> str | None:
        if self._stop.requested:
            return self._stop.reason
        if self._client.unreachable:
            return "TMDB unreachable"
        if self.tally.failed_batches >= MAX_FAILED_BATCHES:
            return "too many failed batches"
        return None

    async def _feed(self, todo: Sequence[Batch]) -> None:
        for n, batch in enumerate(todo):
            # Only between batches: a started batch is always fed whole.
            if (why := self._why_not_go_on()) is not None:
                self.tally.unstarted += len(todo) - n
                log.info(
                    "feeding_stopped",
                    kind=self._plan.kind,
                    genre=self._plan.genre,
                    reason=why,
                    batches_left=len(todo) - n,
                )
                break
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

    async def _drain(self, bar: Progress) -> None:
        started = time.monotonic()
        requests_at_start = self._stats.requests
        running = self._workers
        while running:
            result = await self._results.get()
            if result is None:
                running -= 1
                continue
            batch = self._assembling[result.item.batch]
            self._sink.add(batch, result)
            bar.advance()
            if batch.pending == 0:
                del self._assembling[result.item.batch]
                await self._sink.finish(batch)
                elapsed = max(time.monotonic() - started, 1e-6)
                bar.extra = (
                    f"{(self._stats.requests - requests_at_start) / elapsed:.0f} "
                    f"req/s, {self._stats.throttled} 429s"
                )
