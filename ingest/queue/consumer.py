"""``python -m workers --queue``: receive batch messages and fetch their batches, until a stop.

One long poll at a time asks for as many messages as there are free slots
(``[queue] batches_in_flight``); each message runs in its own task of the consumer's
TaskGroup, through the process' one ``TmdbClient`` (one rate, one connection cap, however
many batches are in flight). While a batch runs, its message's visibility is renewed
every third of ``visibility_s``, so a slow batch is not handed to a second worker; a
worker killed mid-batch stops renewing, and the message comes back after at most
``visibility_s``. A message is deleted only once its batch's file(s) and done-marker are
in the lake (or were already); a failed batch is left to come back, and a batch failing
at the queue's ``maxReceiveCount`` is counted and logged as dead-lettered: SQS moves it
to the dead-letter queue instead of handing it out again.

A dependency lost mid-day (TMDB refusing the token, the lake or the queue gone or
refusing) is not a batch's failure: when a batch fails (or raises) and a recheck of the
dependencies (``Dependencies``: the service's readiness checks) fails too, the consumer
pauses: the service is not ready, nothing more is received, each message it holds is
given back at once (visibility 0) without counting as failed, so no receive count burns
towards the dead-letter queue while the outage lasts, and it resumes once the checks pass
again; a TMDB that stopped answering at all (the client's breaker open) is one such
outage, the breaker closed once the checks reach it again. Without the service's checks
(``dependencies``), that TMDB ends the consumer (``UnreachableError``, exit 1) rather than
fail every message into the dead-letter queue. A stop (SIGTERM) ends the poll, starts no
new batch, lets started ones finish (the service cancels them after its grace period) and
makes the messages it will not run visible again at once.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog

from ingest.errors import IngestError, InputError, RetryableError, raise_primary
from ingest.queue.counters import QueueCounters
from ingest.queue.messages import SETTLED, BatchMessage, BatchOutcome
from ingest.queue.sqs import Received, SqsQueue
from ingest.queue.work import BatchWorker, run_message
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Settings
from ingest.state import open_lake
from ingest.stop import Stop
from ingest.tmdb.client import ClientTuning, TmdbClient

log = structlog.get_logger(__name__)

# After a failed receive (SQS or the network down for now), wait this long before the next.
_RECEIVE_PAUSE_S = 5.0
# Characters of a dead-lettered message's body a log line keeps (one of ours is ~200).
_BODY_SHOWN = 300


class Dependencies(Protocol):
    """What the consumer asks of its service when a batch fails: is it the batch, or
    something every batch needs?"""

    async def lost(self) -> str | None:
        """Check every dependency now; the one line of the first that fails (the service is
        then not ready), or None when they all answer."""

    async def regained(self, stopping: asyncio.Event) -> bool:
        """Wait until every dependency answers again (True) or the service stops (False)."""


class QueueConsumer:
    def __init__(
        self,
        settings: Settings,
        stats: TmdbStats,
        stop: Stop,
        stopping: asyncio.Event,
        counters: QueueCounters,
        *,
        tuning: ClientTuning | None = None,
        dependencies: Dependencies | None = None,
    ) -> None:
        assert settings.queue.url, "the service refuses --queue without a queue"
        self._settings = settings
        self._stats = stats
        self._stop = stop
        self._stopping = stopping
        self.counters = counters
        self._tuning = tuning
        self._changed = asyncio.Condition()
        self._max_receives: int | None = None
        self._dependencies = dependencies
        # Why the consumer is paused (a dependency lost), None while it consumes.
        self.paused: str | None = None
        # One recheck at a time: the batches failing together on one outage ask once.
        self._rechecking = asyncio.Lock()

    async def run(self) -> None:
        s = self._settings
        assert s.queue.url
        async with (
            open_lake(s.lake, s.upload) as lake,
            SqsQueue.connect(s.queue.url) as queue,
            TmdbClient(s.tmdb, self._stats, tuning=self._tuning, stop=self._stop) as client,
        ):
            self._max_receives = await self._max_receive_count(queue)
            log.info(
                "queue_consumer_started",
                queue=queue.url,
                batches_in_flight=s.queue.batches_in_flight,
                max_receive_count=self._max_receives,
            )
            worker = BatchWorker(
                lake, client, self._stats, self._stop, concurrency=s.tmdb.concurrency, queue=queue
            )
            try:
                async with asyncio.TaskGroup() as tg:
                    while (received := await self._poll(queue, client)) is not None:
                        for r in received:
                            self.counters.in_flight += 1
                            tg.create_task(self._handle(queue, worker, r))
            except BaseExceptionGroup as group:
                raise_primary(group)
        log.info("queue_consumer_stopped", **_fields(self.counters))

    async def _max_receive_count(self, queue: SqsQueue) -> int | None:
        """The queue's ``maxReceiveCount``; a queue lost between the checks and this first
        call pauses the consumer as it would mid-day."""
        while True:
            try:
                return await queue.max_receive_count()
            except IngestError:
                if not await self._dependency_lost():
                    raise
                if not await self._resume():
                    return None

    async def _poll(self, queue: SqsQueue, client: TmdbClient) -> list[Received] | None:
        """The next messages, as many as there are free slots; None once stopping."""
        most = self._settings.queue.batches_in_flight
        async with self._changed:
            await self._changed.wait_for(lambda: self.counters.in_flight < most or self._stopping.is_set())
        if self._stopping.is_set():
            return None
        if client.unreachable and self._dependencies is not None and not await self._dependency_lost():
            # The checks reach TMDB again: the breaker's streak is over.
            client.reach.reset()
        if self.paused is not None:
            if not await self._resume():
                return None
            client.reach.reset()
        if client.unreachable:
            # Every batch would fail (and be dead-lettered for nothing): end, and let the
            # orchestrator start a worker again later.
            raise client.unreachable_error()
        async with asyncio.TaskGroup() as tg:
            receive = tg.create_task(self._receive(queue, most - self.counters.in_flight))
            watch = tg.create_task(self._stopping.wait())
            # Whichever ends first ends the other: a stop cuts a 20 s long poll short.
            receive.add_done_callback(lambda _: watch.cancel())
            watch.add_done_callback(lambda _: receive.cancel())
        # A message received just as the poll is dropped comes back after its visibility.
        return None if receive.cancelled() else receive.result()

    async def _receive(self, queue: SqsQueue, most: int) -> list[Received]:
        """The next messages; none, after a pause, when SQS fails for now (the worker goes on)."""
        q = self._settings.queue
        try:
            return await queue.receive(most, q.wait_s, q.visibility_s)
        except IngestError as exc:
            if await self._dependency_lost():
                return []
            if not isinstance(exc, RetryableError):
                raise
            log.warning("queue_receive_failed", error=str(exc), retry_in_s=_RECEIVE_PAUSE_S)
            await asyncio.sleep(_RECEIVE_PAUSE_S)
            return []

    async def _dependency_lost(self) -> bool:
        """Whether the consumer is paused for a lost dependency, rechecking them first."""
        if self._dependencies is None:
            return False
        async with self._rechecking:
            if self.paused is None:
                reason = await self._dependencies.lost()
                if reason is not None:
                    self.paused = reason
                    self.counters.paused = True
                    log.warning("queue_consumer_paused", reason=reason, in_flight=self.counters.in_flight)
        return self.paused is not None

    async def _resume(self) -> bool:
        """Wait out a paused consumer's outage; False when a stop came first."""
        assert self._dependencies is not None
        if not await self._dependencies.regained(self._stopping):
            return False
        log.info("queue_consumer_resumed", after=self.paused)
        self.paused = None
        self.counters.paused = False
        return True

    async def _handle(self, queue: SqsQueue, worker: BatchWorker, r: Received) -> None:
        c = self.counters
        c.received += 1
        c.redelivered += r.receive_count > 1
        c.holding[r.message_id] = r.sent_at
        try:
            outcome = await self._outcome(queue, worker, r)
            if outcome == "failed" and await self._dependency_lost():
                # Not the batch's failure: back on the queue now, for when it returns.
                await queue.renew(r.receipt, 0)
                c.given_back += 1
                log.info("batch_given_back", message_id=r.message_id, batch=_batch_name(r.body))
            else:
                await self._settle(queue, r, outcome)
        except IngestError as exc:
            log.error(
                "queue_call_failed", message_id=r.message_id, error=type(exc).__name__, message=str(exc)
            )
        finally:
            c.in_flight -= 1
            c.holding.pop(r.message_id, None)
            async with self._changed:
                self._changed.notify_all()

    async def _outcome(self, queue: SqsQueue, worker: BatchWorker, r: Received) -> BatchOutcome:
        """The batch's outcome; a batch that raised (a dependency refusing mid-batch: a
        revoked token, a lake gone) failed, and the consumer goes on."""
        outcome: BatchOutcome = "failed"
        raised: list[BaseException] = []
        try:
            outcome = await self._run(queue, worker, r)
        except* IngestError as group:
            raised = _leaves(group)
        if raised:
            first = raised[0]
            log.error(
                "batch_run_failed", batch=_batch_name(r.body), error=type(first).__name__, message=str(first)
            )
        return outcome

    async def _run(self, queue: SqsQueue, worker: BatchWorker, r: Received) -> BatchOutcome:
        async with asyncio.TaskGroup() as tg:
            renewing = tg.create_task(self._renew(queue, r.receipt))
            try:
                return await run_message(worker, r.body, r.message_id)
            finally:
                renewing.cancel()

    async def _renew(self, queue: SqsQueue, receipt: str) -> None:
        visibility_s = self._settings.queue.visibility_s
        while True:
            await asyncio.sleep(visibility_s / 3)
            try:
                await queue.renew(receipt, visibility_s)
            except IngestError as exc:
                log.warning("visibility_renewal_failed", error=str(exc))

    async def _settle(self, queue: SqsQueue, r: Received, outcome: BatchOutcome) -> None:
        c = self.counters
        if outcome in SETTLED:
            await queue.delete(r.receipt)
            c.done += 1
            return
        if outcome == "stopped":
            # Not ours to finish: let another worker have it now rather than after the timeout.
            await queue.renew(r.receipt, 0)
            return
        c.failed += 1
        if self._max_receives is not None and r.receive_count >= self._max_receives:
            c.dead_lettered += 1
            log.error(
                "batch_dead_lettered",
                message_id=r.message_id,
                receives=r.receive_count,
                max_receive_count=self._max_receives,
                batch=_batch_name(r.body),
                # A message body may be up to 256 KiB of anything: the log keeps its start.
                body=r.body[:_BODY_SHOWN],
                body_chars=len(r.body),
            )
        else:
            log.warning("batch_left_for_redelivery", message_id=r.message_id, receives=r.receive_count)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


def _batch_name(body: str) -> str:
    try:
        return BatchMessage.parse(body).name
    except InputError:
        return "unreadable"


def _fields(c: QueueCounters) -> dict[str, float]:
    return {
        "received": c.received,
        "done": c.done,
        "failed": c.failed,
        "redelivered": c.redelivered,
        "dead_lettered": c.dead_lettered,
    }
