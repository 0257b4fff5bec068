"""Stage 2: every movie of a genre (details + keywords) and its franchises, TMDB -> lake.

For each selected genre: plan the movies (``ingest.tmdb.discover``, frozen under
the lake's state by ``ingest.state.plan``), fetch the batches that are not in the lake yet
(``ingest.tmdb.pool``), then do the same for the collections those movies belong to
(``ingest.tmdb.collections``). A batch that failed after its retries is left out and the
run ends with a ``RunError``: the rerun fetches only what is missing. So does a TMDB that
stops answering (``UnreachableError``), and a stop (SIGTERM): started batches finish,
nothing new starts.

The collections' plan is frozen only once every planned movie batch is in the lake; with
``--collections`` alone the missing movie batches are fetched first (cheap when they are
all there). A collection plan grows like a movie plan when a later run covers more
movies, and is fetched whole.

A movie plan is a full snapshot or, with the incremental refresh (``ingest.tmdb.refresh``),
the members new to the genre or changed since its last complete run. Once a dataset's
plan is entirely in the lake its cursor moves to the run's date (and, for movies,
``removed.json`` records what the genre lost): never before, so a killed run's rerun
finishes the same plan first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog

from ingest.config import Settings
from ingest.errors import Interrupted, RunError, raise_primary
from ingest.genres import Genre
from ingest.lake import Lake
from ingest.report import TmdbStats
from ingest.state.completion import finish
from ingest.state.markers import missing_batches
from ingest.state.plan import Plan
from ingest.stop import Stop
from ingest.tmdb.client import ClientTuning, TmdbClient
from ingest.tmdb.planner import GenrePlanner
from ingest.tmdb.pool import BatchPool
from ingest.tmdb.refresh import full_run_requests, note_plan
from ingest.tmdb.sink import FetchTally

log = structlog.get_logger(__name__)


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

    Raises ``AuthError`` on a 401, ``ConfigError`` when TMDB cannot be reached at all from
    the start, ``UnreachableError`` when it stops answering mid-run, ``RunError`` when
    batches failed after their retries (after the rest of the run has gone on),
    ``LakeError`` when the lake refuses a write.
    """
    if not settings.job.uses_tmdb:
        return True
    try:
        return await _crawl(lake, settings, stats, stop, progress, tuning)
    except Interrupted as exc:
        # A stop cut a wait for the rate limiter short: the run ends as stopped.
        log.info("tmdb_stage_interrupted", why=str(exc))
        return False


async def _crawl(
    lake: Lake,
    settings: Settings,
    stats: TmdbStats,
    stop: Stop,
    progress: bool,
    tuning: ClientTuning | None,
) -> bool:
    started = time.monotonic()
    failures: list[str] = []
    complete = True
    try:
        async with TmdbClient(settings.tmdb, stats, tuning=tuning, stop=stop) as client:
            crawler = GenreCrawler(lake, settings, stats, stop, progress, client)
            for genre in settings.job.genres:
                if stop.requested or client.unreachable:
                    complete = False
                    break
                done, failed = await crawler.genre(genre)
                failures += failed
                complete = complete and done
            _summarise(stats, client, time.monotonic() - started)
            if client.unreachable:
                raise client.unreachable_error()
    except BaseExceptionGroup as group:
        raise_primary(group)
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
        oversized=stats.oversized,
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
        **stats.refresh_summary(),
    )


@dataclass(slots=True)
class MoviesFetched:
    """A genre's movie plan after this run's fetch: what the collections stage starts from."""

    plan: Plan
    target: int
    done: bool
    failures: list[str]
    # Collection ids per batch number, from this run's answers.
    collections: dict[int, list[int]] = field(default_factory=dict)


class GenreCrawler:
    """One genre at a time: its movies, then (if asked) its collections."""

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
        self._settings = settings
        self._stats = stats
        self._stop = stop
        self._progress = progress
        self._client = client
        self._planner = GenrePlanner(lake, settings.date, settings.job, client, stats, progress)

    async def genre(self, genre: Genre) -> tuple[bool, list[str]]:
        """Return whether the genre is whole in the lake, and what failed."""
        movies = await self.movies(genre)
        if not movies.done or not self._settings.job.collections:
            self._stats.full_run_requests += full_run_requests(movies.plan, None)
            return movies.done, movies.failures
        plan = await self._planner.collections(genre, movies.plan, movies.target, movies.collections)
        target = len(plan.ids)
        self._stats.collections_planned += target
        self._stats.full_run_requests += full_run_requests(movies.plan, target)
        fetched, done = await self._fetch(plan, target)
        if done:
            await self._completed(movies.plan, plan)
        return done, movies.failures + fetched.failures(genre.slug, "collections")

    async def movies(self, genre: Genre) -> MoviesFetched:
        plan = await self._planner.movies(genre)
        note_plan(self._stats, plan)
        target = plan.target(self._settings.job.limit)
        self._stats.planned += target
        fetched, done = await self._fetch(plan, target)
        if done:
            await self._completed(plan, plan)
        return MoviesFetched(plan, target, done, fetched.failures(genre.slug, "movies"), fetched.collections)

    async def _completed(self, movies: Plan, plan: Plan) -> None:
        """``plan`` (movies, or collections drawn from ``movies``) is entirely in the lake:
        record what the movies lost, and move the dataset's cursor to this date. Not for a
        ``--limit`` run, which is no complete run of the genre."""
        if self._settings.job.limit is None and movies.complete:
            self._stats.removed += await finish(self._lake, plan, movies.refresh)

    async def _fetch(self, plan: Plan, target: int) -> tuple[FetchTally, bool]:
        """Fetch the batches of ``plan``'s first ``target`` ids that are not in the lake;
        return what happened and whether every one of them is there now."""
        batches = len(plan.batches(target))
        todo = await missing_batches(self._lake, plan, target)
        log.info(
            "batches_planned",
            kind=plan.kind,
            genre=plan.genre,
            ids=target,
            batches=batches,
            already_in_lake=batches - len(todo),
            to_fetch=len(todo),
        )
        if not todo:
            return FetchTally(), True
        started = time.monotonic()
        requests_at_start = self._stats.requests
        logical_at_start = self._client.first_attempts
        pool = BatchPool(
            self._lake,
            self._client,
            self._stats,
            self._stop,
            plan,
            workers=self._settings.tmdb.concurrency,
            progress=self._progress,
        )
        tally = await pool.run(todo)
        seconds = time.monotonic() - started
        log.info(
            "batches_fetched",
            kind=plan.kind,
            genre=plan.genre,
            batches=tally.written_batches,
            records=tally.records,
            failed_batches=tally.failed_batches,
            batches_left_for_rerun=tally.left_for_rerun,
            requests=self._stats.requests - requests_at_start,
            logical_requests=self._client.first_attempts - logical_at_start,
            seconds=round(seconds, 3),
            records_per_s=round(tally.records / seconds, 2) if seconds > 0 else None,
        )
        return tally, tally.failed_batches == 0 and tally.left_for_rerun == 0
