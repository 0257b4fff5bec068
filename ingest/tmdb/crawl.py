"""Stage 2: every movie of a genre (details + keywords) and its franchises, TMDB -> lake.

For each selected genre: plan the movies (``ingest.tmdb.discover``, frozen under
``_ingest/`` by ``ingest.tmdb.plan``), fetch the batches that are not in the lake yet,
then do the same for the collections those movies belong to. A fetch is one TaskGroup::

    feeder --work queue--> N workers --results queue--> batching sink --> lake

Both queues are bounded, so a slow lake slows the workers and the workers slow the
feeder. The feeder checks ``stop`` before it starts a batch and never in the middle of
one; batches already started are finished. The sink writes a batch once all its records
are in (``ingest.tmdb.files``), then its done-marker. A movie whose retries run out
fails its batch (nothing of it is written), the others go on, and the run ends with a
``RunError``: the rerun fetches only what is missing.

Collections: the distinct ``belongs_to_collection`` ids of the genre's planned movies, in
plan order, taken from this run's answers or from the batches' markers. Their plan is
frozen only once every planned movie batch is in the lake; with ``--collections`` alone the
missing movie batches are fetched first (cheap when they are all there). A collection plan
grows like a movie plan when a later run covers more movies, and is fetched whole.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import orjson
import structlog

from ingest.config import Settings
from ingest.errors import (
    AuthError,
    IngestError,
    LakeError,
    RunError,
    SkippedRecord,
    UsageError,
)
from ingest.genres import Genre
from ingest.lake import Lake
from ingest.lake.keys import Kind, tmdb_key
from ingest.progress import Progress
from ingest.report import TmdbStats
from ingest.stop import Stop
from ingest.tmdb.client import ClientTuning, TmdbClient
from ingest.tmdb.discover import Discoverer
from ingest.tmdb.files import as_line, file_number, pack
from ingest.tmdb.plan import (
    Batch,
    Plan,
    done_batches,
    load_plan,
    marker_key,
    save_plan,
)

log = structlog.get_logger(__name__)

# After this many failed batches TMDB is taken to be down: no new batch is started.
MAX_FAILED_BATCHES = 3
MOVIE_PARAMS: Mapping[str, str] = {"append_to_response": "keywords"}


async def run_tmdb(
    lake: Lake,
    settings: Settings,
    stats: TmdbStats,
    *,
    stop: Stop,
    progress: bool,
    tuning: ClientTuning | None = None,
) -> bool:
    """Fetch settings.job.genres' movies (if settings.job.movies) and collections (if
    settings.job.collections) for settings.job.limit; update ``stats`` as it goes; check
    stop.requested before starting each batch (never mid-batch), let started batches
    finish; return True when every planned batch of every selected genre is in the lake.

    Raises ``AuthError`` on a 401, ``RunError`` when batches failed after their retries
    (after the rest of the run has gone on), ``LakeError`` when the lake refuses a write.
    """
    job = settings.job
    if not job.uses_tmdb:
        return True
    started = time.monotonic()
    failures: list[str] = []
    complete = True
    try:
        async with TmdbClient(settings.tmdb, stats, tuning=tuning) as client:
            stage = _Stage(lake, settings, stats, stop, progress, client)
            for genre in job.genres:
                if stop.requested:
                    complete = False
                    break
                movies = await stage.movies(genre)
                failures += movies.failures
                if not movies.done:
                    complete = False
                    continue
                if job.collections:
                    done, failed = await stage.collections(genre, movies)
                    failures += failed
                    complete = complete and done
            _summarise(stats, client, time.monotonic() - started)
    except BaseExceptionGroup as group:
        _raise_primary(group)
    if failures:
        raise RunError("; ".join(failures))
    return complete and not stop.requested


def _summarise(stats: TmdbStats, client: TmdbClient, seconds: float) -> None:
    records = stats.written + stats.collections_written
    log.info(
        "tmdb_stage_finished",
        planned=stats.planned,
        written=stats.written,
        skipped=stats.skipped,
        failed=stats.failed,
        collections_planned=stats.collections_planned,
        collections_written=stats.collections_written,
        files=stats.files,
        bytes=stats.bytes,
        requests=stats.requests,
        logical_requests=client.first_attempts,
        retries=stats.retries,
        throttled=stats.throttled,
        seconds=round(seconds, 3),
        movies_per_s=round(stats.written / seconds, 2) if seconds > 0 else None,
        attempts_per_record=round(stats.requests / records, 4) if records else None,
        logical_requests_per_record=round(client.first_attempts / records, 4) if records else None,
        rate_per_s=round(client.rate_per_s, 2),
    )


def _raise_primary(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Re-raise the error that explains a failed TaskGroup best (401 first)."""
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup[BaseException]) -> None:
        for e in g.exceptions:
            if isinstance(e, BaseExceptionGroup):
                walk(e)
            else:
                leaves.append(e)

    walk(group)
    for kind in (AuthError, UsageError, LakeError, IngestError):
        for e in leaves:
            if isinstance(e, kind):
                raise e from None
    raise leaves[0] if leaves else group


@dataclass(slots=True)
class _MoviesDone:
    plan: Plan
    target: int
    done: bool
    failures: list[str]
    # Collection ids per batch number, from this run's answers.
    collections: dict[int, list[int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Fetched:
    failed_batches: int = 0
    failed_items: int = 0
    first_error: str | None = None
    written_batches: int = 0
    records: int = 0
    unstarted: int = 0
    collections: dict[int, list[int]] = field(default_factory=dict)

    def failures(self, genre: Genre, noun: str) -> list[str]:
        """What the run's final error says about this fetch, if any batch failed."""
        if not self.failed_batches:
            return []
        return [
            f"{self.failed_batches} batches of {genre.slug} {noun} failed "
            f"({self.failed_items} {noun} did not come through; first: {self.first_error})"
        ]


@dataclass(frozen=True, slots=True)
class _Item:
    batch: int
    index: int
    id: int


@dataclass(frozen=True, slots=True)
class _Result:
    item: _Item
    # The record's line, or None when it was skipped (404) or failed.
    line: bytes | None = None
    collection_id: int | None = None
    error: str | None = None


class _Open:
    """A batch being assembled by the sink."""

    __slots__ = ("batch", "collections", "error", "lines", "pending", "skipped")

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        # Slots in plan order: results arrive in any order, files keep the plan's.
        self.lines: list[bytes | None] = [None] * len(batch.ids)
        self.collections: list[int | None] = [None] * len(batch.ids)
        self.pending = len(batch.ids)
        self.skipped: list[int] = []
        self.error: str | None = None


class _Stage:
    def __init__(
        self,
        lake: Lake,
        settings: Settings,
        stats: TmdbStats,
        stop: Stop,
        progress: bool,
        client: TmdbClient,
    ) -> None:
        self._lake = lake
        self._date: dt.date = settings.date
        self._limit = settings.job.limit
        self._workers = settings.tmdb.concurrency
        self._stats = stats
        self._stop = stop
        self._progress = progress
        self._client = client

    # Movies ------------------------------------------------------------------------------

    async def movies(self, genre: Genre) -> _MoviesDone:
        plan = await load_plan(self._lake, self._date, Kind.MOVIES, genre.slug)
        if plan is not None and plan.covers(self._limit):
            log.info("plan_reused", kind="movies", genre=genre.slug, ids=len(plan.ids), plan_id=plan.plan_id)
        else:
            plan = await self._enumerate(genre, plan)
        target = plan.target(self._limit)
        self._stats.planned += target
        fetched, done = await self._fetch(plan, target)
        return _MoviesDone(plan, target, done, fetched.failures(genre, "movies"), fetched.collections)

    async def _enumerate(self, genre: Genre, old: Plan | None) -> Plan:
        attempts_before = self._stats.requests
        found = await Discoverer(self._client, genre).run(self._limit)
        entry = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "limit": self._limit,
            "total_results": found.total_results,
            "found": len(found.ids),
            "gap": found.gap,
            "gap_reason": found.gap_reason,
            "windows": found.windows,
            "discover_requests": found.requests,
            "discover_attempts": self._stats.requests - attempts_before,
        }
        limit = None if found.complete else self._limit
        if old is None:
            plan = Plan(
                Kind.MOVIES,
                genre.id,
                genre.slug,
                self._date,
                found.ids,
                complete=found.complete,
                limit=limit,
                history=(entry,),
            )
        else:
            plan = old.extended(
                found.ids,
                complete=old.complete or found.complete,
                limit=None if found.complete else max(old.limit or 0, self._limit or 0),
                history=(*old.history, entry),
            )
        await save_plan(self._lake, plan)
        log.info(
            "plan_frozen",
            kind="movies",
            genre=genre.slug,
            plan_id=plan.plan_id,
            ids=len(plan.ids),
            appended=len(plan.ids) - (len(old.ids) if old else 0),
            **entry,
        )
        if found.gap:
            log.warning(
                "genre_gap_found",
                genre=genre.slug,
                total_results=found.total_results,
                found=len(found.ids),
                gap=found.gap,
                why=found.gap_reason,
            )
        return plan

    # Collections -------------------------------------------------------------------------

    async def collections(self, genre: Genre, movies: _MoviesDone) -> tuple[bool, list[str]]:
        plan = await load_plan(self._lake, self._date, Kind.COLLECTIONS, genre.slug)
        source = movies.plan
        if plan is not None and plan.source_plan_id == source.plan_id and plan.covered >= movies.target:
            log.info(
                "plan_reused", kind="collections", genre=genre.slug, ids=len(plan.ids), plan_id=plan.plan_id
            )
        else:
            ids = await self._collection_ids(movies)
            entry = {
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "movies": movies.target,
                "found": len(ids),
            }
            if plan is None or plan.source_plan_id != source.plan_id:
                plan = Plan(
                    Kind.COLLECTIONS,
                    genre.id,
                    genre.slug,
                    self._date,
                    tuple(ids),
                    complete=True,
                    source_plan_id=source.plan_id,
                    covered=movies.target,
                    history=(entry,),
                )
            else:
                plan = plan.extended(ids, covered=movies.target, history=(*plan.history, entry))
            await save_plan(self._lake, plan)
            log.info(
                "plan_frozen",
                kind="collections",
                genre=genre.slug,
                plan_id=plan.plan_id,
                ids=len(plan.ids),
                movies=movies.target,
            )
        target = len(plan.ids)
        self._stats.collections_planned += target
        fetched, done = await self._fetch(plan, target)
        return done, fetched.failures(genre, "collections")

    async def _collection_ids(self, movies: _MoviesDone) -> list[int]:
        """Distinct collection ids of the planned movies, in plan order."""
        batches = movies.plan.batches(movies.target)
        markers = await done_batches(self._lake, movies.plan, batches)
        per_batch: dict[int, list[int]] = dict(movies.collections)
        gate = asyncio.Semaphore(8)

        async def read(batch: Batch) -> None:
            async with gate:
                per_batch[batch.number] = await self._batch_collections(
                    movies.plan, batch, markers.get(batch.number)
                )

        async with asyncio.TaskGroup() as tg:
            for b in batches:
                if b.number not in per_batch:
                    tg.create_task(read(b))
        ordered = (cid for b in batches for cid in per_batch.get(b.number, ()))
        return list(dict.fromkeys(ordered))

    async def _batch_collections(self, plan: Plan, batch: Batch, marker: str | None) -> list[int]:
        if marker is not None:
            body = await self._lake.read(marker)
            if body is not None:
                try:
                    return [int(c) for c in orjson.loads(body)["collections"]]
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    pass
        # No usable marker: read the batch's own files.
        ids: list[int] = []
        piece = 1
        while True:
            key = tmdb_key(Kind.MOVIES, self._date, plan.genre, file_number(batch.number, piece))
            data = await self._lake.read(key)
            if data is None:
                break
            for line in data.splitlines():
                if line.strip():
                    cid = _collection_of(orjson.loads(line))
                    if cid is not None:
                        ids.append(cid)
            piece += 1
        return ids

    # The worker pool ---------------------------------------------------------------------

    async def _fetch(self, plan: Plan, target: int) -> tuple[_Fetched, bool]:
        """Fetch the batches of ``plan``'s first ``target`` ids that are not in the lake;
        return what happened and whether every one of them is there now."""
        batches = plan.batches(target)
        already = await done_batches(self._lake, plan, batches)
        todo = [b for b in batches if b.number not in already]
        log.info(
            "batches_planned",
            kind=plan.kind,
            genre=plan.genre,
            ids=target,
            batches=len(batches),
            already_in_lake=len(already),
            to_fetch=len(todo),
        )
        fetched = _Fetched()
        if not todo:
            return fetched, True
        bar = Progress(f"{plan.genre} {plan.kind}", sum(len(b.ids) for b in todo), enabled=self._progress)
        started = time.monotonic()
        requests_at_start = self._stats.requests
        logical_at_start = self._client.first_attempts
        work: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=2 * self._workers)
        results: asyncio.Queue[_Result | None] = asyncio.Queue(maxsize=2 * self._workers)
        opened: dict[int, _Open] = {}
        path = "/movie/{}" if plan.kind is Kind.MOVIES else "/collection/{}"
        params = MOVIE_PARAMS if plan.kind is Kind.MOVIES else None

        async def feed() -> None:
            for n, batch in enumerate(todo):
                # Only between batches: a started batch is always fed whole.
                if self._stop.requested or fetched.failed_batches >= MAX_FAILED_BATCHES:
                    fetched.unstarted = len(todo) - n
                    log.info(
                        "feeding_stopped",
                        kind=plan.kind,
                        genre=plan.genre,
                        reason=self._stop.reason or "too many failed batches",
                        batches_left=fetched.unstarted,
                    )
                    break
                opened[batch.number] = _Open(batch)
                for i, item_id in enumerate(batch.ids):
                    await work.put(_Item(batch.number, i, item_id))
            # Not in a `finally`: when the group is cancelled nobody drains the queue.
            for _ in range(self._workers):
                await work.put(None)

        async def fetch_one() -> None:
            while (item := await work.get()) is not None:
                await results.put(await self._one(item, path.format(item.id), params))
            await results.put(None)

        async def sink() -> None:
            running = self._workers
            while running:
                result = await results.get()
                if result is None:
                    running -= 1
                    continue
                open_ = opened[result.item.batch]
                self._take(open_, result, plan.kind)
                if open_.pending == 0:
                    del opened[result.item.batch]
                    await self._close(plan, open_, fetched)
                    bar.advance(len(open_.batch.ids))
                    elapsed = max(time.monotonic() - started, 1e-6)
                    bar.extra = (
                        f"{(self._stats.requests - requests_at_start) / elapsed:.0f} "
                        f"req/s, {self._stats.throttled} 429s"
                    )

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(feed())
                for _ in range(self._workers):
                    tg.create_task(fetch_one())
                tg.create_task(sink())
        finally:
            bar.close()
        seconds = time.monotonic() - started
        log.info(
            "batches_fetched",
            kind=plan.kind,
            genre=plan.genre,
            batches=fetched.written_batches,
            records=fetched.records,
            failed_batches=fetched.failed_batches,
            unstarted_batches=fetched.unstarted,
            requests=self._stats.requests - requests_at_start,
            logical_requests=self._client.first_attempts - logical_at_start,
            seconds=round(seconds, 3),
            records_per_s=round(fetched.records / seconds, 2) if seconds > 0 else None,
        )
        done = fetched.failed_batches == 0 and fetched.unstarted == 0
        return fetched, done

    async def _one(self, item: _Item, path: str, params: Mapping[str, str] | None) -> _Result:
        try:
            reply = await self._client.get(path, params, item_id=item.id)
        except SkippedRecord:
            return _Result(item)
        except RunError as exc:
            # Retries ran out (or TMDB refused it for good): this batch fails, others go on.
            return _Result(item, error=str(exc))
        return _Result(item, as_line(reply.body, reply.data), _collection_of(reply.data))

    def _take(self, open_: _Open, result: _Result, kind: Kind) -> None:
        open_.pending -= 1
        if result.error is not None:
            open_.error = open_.error or result.error
            self._stats.failed += 1
        elif result.line is None:
            open_.skipped.append(result.item.id)
            self._stats.skipped += 1
            log.info("record_skipped", kind=kind, id=result.item.id, why="TMDB answered 404")
        else:
            open_.lines[result.item.index] = result.line
            open_.collections[result.item.index] = result.collection_id

    async def _close(self, plan: Plan, open_: _Open, fetched: _Fetched) -> None:
        batch = open_.batch
        seen = [cid for cid in open_.collections if cid is not None]
        if open_.error is not None:
            fetched.failed_batches += 1
            fetched.first_error = fetched.first_error or open_.error
            fetched.failed_items += sum(1 for x in open_.lines if x is None) - len(open_.skipped)
            log.warning(
                "batch_failed", kind=plan.kind, genre=plan.genre, batch=batch.number, error=open_.error
            )
            return
        lines = [x for x in open_.lines if x is not None]
        files = pack(lines)
        keys = []
        for piece, data in enumerate(files, start=1):
            key = tmdb_key(plan.kind, plan.date, plan.genre, file_number(batch.number, piece))
            await self._lake.write(key, data)
            keys.append(key)
            self._stats.files += 1
            self._stats.bytes += len(data)
        marker: dict[str, Any] = {
            "batch": batch.number,
            "ids": len(batch.ids),
            "written": len(lines),
            "skipped": open_.skipped,
            "files": keys,
        }
        if plan.kind is Kind.MOVIES:
            marker["collections"] = list(dict.fromkeys(seen))
            fetched.collections[batch.number] = marker["collections"]
            self._stats.written += len(lines)
        else:
            self._stats.collections_written += len(lines)
        await self._lake.write(marker_key(plan, batch, len(lines)), orjson.dumps(marker))
        fetched.written_batches += 1
        fetched.records += len(lines)
        log.info(
            "batch_written",
            kind=plan.kind,
            genre=plan.genre,
            batch=batch.number,
            records=len(lines),
            skipped=len(open_.skipped),
            files=len(keys),
            bytes=sum(len(f) for f in files),
        )


def _collection_of(data: Any) -> int | None:
    ref = data.get("belongs_to_collection") if isinstance(data, dict) else None
    if isinstance(ref, dict) and isinstance(ref.get("id"), int):
        return int(ref["id"])
    return None
