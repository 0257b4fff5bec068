"""Fetch the batch one message names: the step a queue worker and the Lambda share.

The batch is fetched by the same pool and sink as a one-shot run (``ingest.tmdb.pool``),
through the process' one ``TmdbClient``, so every batch in flight shares one rate and one
connection cap. A batch's outcome says what to do with its message:

    written, already_done, stale ... delete it: the lake holds the batch (or never will)
    failed, stopped ................ leave it: SQS hands it out again after its visibility

When a movie message asks for its collections and its batch was the genre's last one to
land, the worker freezes the collection plan and enqueues its batches, once: a claim in
the lake decides which worker sends them, whatever the timing (``ingest.state.claims``).
A worker that dies in between never deletes its own message, so the message comes back,
finds its batch already done, and whoever takes it sends the collections in the dead
worker's place once the claim is abandoned.
"""

from __future__ import annotations

import structlog

from ingest.errors import ConfigError, IngestError, InputError
from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.queue.enqueue import enqueue_collections
from ingest.queue.messages import BatchMessage, BatchOutcome
from ingest.queue.sqs import SqsQueue
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Job
from ingest.settings.genres import Genre, resolve_genre
from ingest.state.claims import create_claim, mark_sent, read_claim
from ingest.state.completion import finish_if_whole
from ingest.state.dataset import CatalogueDataset
from ingest.state.markers import batches_in_lake, missing_batches
from ingest.state.plan import Plan, load_plan
from ingest.stop import Stop
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.planner import GenrePlanner
from ingest.tmdb.pool import BatchPool

log = structlog.get_logger(__name__)


async def run_message(worker: BatchWorker, body: str, message_id: str | None) -> BatchOutcome:
    """Run the batch one message's ``body`` names: the one handler of a received message,
    for the queue consumer and the Lambda alike. An unreadable body or a run that raised
    is ``failed`` (left for redelivery, then the dead-letter queue), logged once here."""
    try:
        message = BatchMessage.parse(body)
    except InputError as exc:
        log.error("batch_message_unreadable", message_id=message_id, why=str(exc))
        return "failed"
    try:
        return await worker.run(message)
    except IngestError as exc:
        log.error("batch_run_failed", batch=message.name, error=type(exc).__name__, message=str(exc))
        return "failed"


class BatchWorker:
    """Run batch messages against one lake and one TMDB client; ``queue`` (if any) is
    where a genre's collection batches go once its movies are all in."""

    def __init__(
        self,
        lake: Lake,
        client: TmdbClient,
        stats: TmdbStats,
        stop: Stop,
        *,
        concurrency: int,
        queue: SqsQueue | None = None,
    ) -> None:
        self._lake = lake
        self._client = client
        self._stats = stats
        self._stop = stop
        self._concurrency = concurrency
        self._queue = queue

    async def run(self, message: BatchMessage) -> BatchOutcome:
        if self._stop.requested:
            return "stopped"
        if message.lake is not None and message.lake != self._lake.url:
            # Not this worker's to judge: the plan is in another lake. Left for a worker on
            # the right lake (or, at maxReceiveCount, the dead-letter queue), never dropped.
            log.error(
                "batch_message_wrong_lake",
                batch=message.name,
                message_lake=message.lake,
                worker_lake=self._lake.url,
                hint="point the worker's INGEST_LAKE at the lake the batches were enqueued for",
            )
            return "wrong_lake"
        if isinstance(message.dataset, CatalogueDataset):
            # The whole catalogue's plan is chunked: ingest.queue.catalogue reads its batch.
            from ingest.queue.catalogue import run_catalogue_message

            return await run_catalogue_message(
                self._lake, self._client, self._stats, self._stop, message, concurrency=self._concurrency
            )
        plan = await load_plan(self._lake, message.date, message.kind, message.genre)
        batch = None if plan is None or plan.plan_id != message.plan_id else message.batch_of(plan)
        if plan is None or batch is None or len(batch.ids) != message.size:
            # The plan was deleted or replaced since the message was sent: its batches are
            # another plan's now, and a rerun of --enqueue sends those.
            log.warning(
                "batch_message_stale",
                batch=message.name,
                plan_id=message.plan_id,
                reason=_stale_reason(plan, message),
            )
            return "stale"
        outcome: BatchOutcome = "already_done"
        if await batches_in_lake(self._lake, plan, [batch]):
            log.info("batch_already_done", batch=message.name)
        else:
            pool = BatchPool(
                self._lake,
                self._client,
                self._stats,
                self._stop,
                plan,
                workers=self._concurrency,
                progress=False,
            )
            tally = await pool.run([batch])
            if tally.written_batches != 1:
                # Unstarted without a stop: TMDB is unreachable; the visibility timeout is the backoff.
                return "stopped" if tally.left_for_rerun and self._stop.requested else "failed"
            outcome = "written"
        # The batch is in the lake: if it was the last, take the steps that follow. A message
        # back although its batch was done may be one whose worker died before taking them
        # (or between claiming the genre's collections and sending them).
        await self._complete_if_last(plan, message)
        if plan.kind is Kind.MOVIES and message.then_collections:
            redelivered = outcome == "already_done"
            if not await self._collections_if_last(plan, message, redelivered=redelivered):
                return "failed"
        return outcome

    async def _complete_if_last(self, plan: Plan, message: BatchMessage) -> None:
        """When this batch was the last of a whole-genre plan to land, take the completion
        step (``ingest.state.completion``), so a fleet's next run is incremental too. Two
        workers landing last batches at once both take it; it writes the same thing twice."""
        movies = (
            plan if plan.kind.primary else await load_plan(self._lake, plan.date, Kind.MOVIES, plan.genre)
        )
        if movies is None:
            return
        # A movie message names how many ids its run covered: a --limit run is no whole genre.
        target = message.target if plan.kind.primary else len(movies.ids)
        removed = await finish_if_whole(self._lake, movies, plan, target)
        self._stats.removed += removed or 0

    async def _collections_if_last(
        self, movies: Plan, message: BatchMessage, *, redelivered: bool = False
    ) -> bool:
        """Send the genre's collection batches if the movies are all in and no other worker
        did or does; False when a claim is too young to tell a dead sender from a live one
        (the message then comes back later)."""
        if self._queue is None or await missing_batches(self._lake, movies, message.target):
            return True
        genre = _genre(message)
        # Only the collections are planned here; no movie plan is made from this job.
        job = Job(genres=(genre,), collections=True)
        planner = GenrePlanner(self._lake, movies.date, job, self._client, self._stats, progress=False)
        plan = await planner.collections(genre, movies, message.target, {})
        if not await create_claim(self._lake, plan, message.name):
            if not redelivered:
                return True  # another worker landed a last batch too, and sends them
            state = await read_claim(self._lake, plan)
            if state == "sent":
                return True
            if state == "pending":
                log.info("collections_claim_pending", genre=genre.slug, plan_id=plan.plan_id)
                return False
            log.warning("collections_claim_taken_over", genre=genre.slug, plan_id=plan.plan_id)
        sent = await enqueue_collections(self._lake, planner, self._queue, genre, movies, message.target)
        await mark_sent(self._lake, plan, message.name)
        log.info("collections_enqueued", genre=genre.slug, plan_id=plan.plan_id, batches=sent)
        return True


def _stale_reason(plan: Plan | None, message: BatchMessage) -> str:
    if plan is None:
        return "no plan in the lake for this date and dataset (deleted, or never made here)"
    if plan.plan_id != message.plan_id:
        return f"the plan was replaced (the lake's plan is {plan.plan_id})"
    return f"the batch has {len(message.batch_of(plan).ids)} ids in the plan, not {message.size}"


def _genre(message: BatchMessage) -> Genre:
    try:
        return resolve_genre(message.genre_id, "series" if message.kind is Kind.SERIES else "movies")
    except ConfigError:  # an id TMDB added since: its slug came with the message
        return Genre(message.genre_id, message.genre)
