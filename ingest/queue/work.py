"""Fetch the batch one message names: the step a queue worker and the Lambda share.

The batch is fetched by the same pool and sink as a one-shot run (``ingest.tmdb.pool``),
through the process' one ``TmdbClient``, so every batch in flight shares one rate and one
connection cap. A batch's outcome says what to do with its message:

    written, already_done, stale ... delete it: the lake holds the batch (or never will)
    failed, stopped ................ leave it: SQS hands it out again after its visibility

When a movie message asks for its collections and its batch was the genre's last one to
land, the worker freezes the collection plan and enqueues its batches, once: the lake's
conditional create of ``enqueued-<plan id>`` beside the collection plan decides which
worker sends them, whatever the timing. The claim says ``"sent": false`` until they are
sent. A worker that dies in between never deletes its own message, so the message comes
back, finds its batch already done, and whoever takes it sends the collections in the
dead worker's place once the claim is older than ``CLAIM_GRACE_S``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson
import structlog

from ingest.config import Job
from ingest.errors import ConfigError, IngestError, InputError
from ingest.genres import Genre, resolve_genre
from ingest.lake import Lake
from ingest.lake.keys import CATALOGUE, Kind
from ingest.queue.enqueue import enqueue_collections
from ingest.queue.messages import BatchMessage, BatchOutcome
from ingest.queue.sqs import SqsQueue
from ingest.report import TmdbStats
from ingest.stop import Stop
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.crawl import dataset_completed
from ingest.tmdb.markers import batches_in_lake, missing_batches
from ingest.tmdb.plan import Plan, dataset_prefix, load_plan
from ingest.tmdb.planner import GenrePlanner
from ingest.tmdb.pool import BatchPool

log = structlog.get_logger(__name__)

# An unsent collections claim older than this was left by a worker that died between
# claiming and sending: a live one sends within seconds of its claim.
CLAIM_GRACE_S = 60.0


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
        if message.genre == CATALOGUE:
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
        """When this batch was the last of a whole-genre plan to land, the date's run of the
        dataset is complete: take the step a one-shot run takes (``removed.json``, the
        cursor), so a fleet's next run is incremental too. Two workers landing last batches
        at once both take it; it writes the same thing twice."""
        movies = (
            plan
            if plan.kind is Kind.MOVIES
            else await load_plan(self._lake, plan.date, Kind.MOVIES, plan.genre)
        )
        if movies is None or not movies.complete or plan.source_plan_id not in (None, movies.plan_id):
            return
        # A movie message names how many ids its run covered: a --limit run is no whole genre.
        if plan.kind is Kind.MOVIES and message.target < len(plan.ids):
            return
        if not await missing_batches(self._lake, plan, len(plan.ids)):
            await dataset_completed(self._lake, self._stats, movies, plan)

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
        claim = claim_key(plan)
        if not await self._lake.create(claim, _claim(message, sent=False)):
            if not redelivered:
                return True  # another worker landed a last batch too, and sends them
            state = claim_state(await self._lake.read(claim))
            if state == "sent":
                return True
            if state == "pending":
                log.info("collections_claim_pending", genre=genre.slug, plan_id=plan.plan_id)
                return False
            log.warning("collections_claim_taken_over", genre=genre.slug, plan_id=plan.plan_id)
        sent = await enqueue_collections(self._lake, planner, self._queue, genre, movies, message.target)
        await self._lake.write(claim, _claim(message, sent=True))
        log.info("collections_enqueued", genre=genre.slug, plan_id=plan.plan_id, batches=sent)
        return True


def claim_key(collections: Plan) -> str:
    """Where the one worker that sends a collection plan's batches says so."""
    prefix = dataset_prefix(collections.date, collections.kind, collections.genre)
    return f"{prefix}enqueued-{collections.plan_id}"


def _claim(message: BatchMessage, *, sent: bool) -> bytes:
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return orjson.dumps({"claimed_at": at, "sent": sent, "by": message.name})


def claim_state(
    data: bytes | None, now: dt.datetime | None = None
) -> Literal["sent", "pending", "abandoned"]:
    """A claim's state: its batches were sent, are being sent, or never will be by its
    worker. A claim that cannot be read, or was written before claims said, counts as sent."""
    try:
        body: Any = orjson.loads(data or b"")
    except orjson.JSONDecodeError:
        return "sent"
    if not isinstance(body, dict) or body.get("sent") is not False:
        return "sent"
    try:
        at = dt.datetime.fromisoformat(str(body.get("claimed_at")))
    except ValueError:
        return "abandoned"
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    age = ((now or dt.datetime.now(dt.UTC)) - at).total_seconds()
    return "pending" if age < CLAIM_GRACE_S else "abandoned"


def _stale_reason(plan: Plan | None, message: BatchMessage) -> str:
    if plan is None:
        return "no plan in the lake for this date and dataset (deleted, or never made here)"
    if plan.plan_id != message.plan_id:
        return f"the plan was replaced (the lake's plan is {plan.plan_id})"
    return f"the batch has {len(message.batch_of(plan).ids)} ids in the plan, not {message.size}"


def _genre(message: BatchMessage) -> Genre:
    try:
        return resolve_genre(message.genre_id)
    except ConfigError:  # an id TMDB added since: its slug came with the message
        return Genre(message.genre_id, message.genre)
