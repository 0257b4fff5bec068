"""A genre's part of stage 2: every movie of it (details + keywords) and its franchises.

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

from ingest.settings.genres import Genre
from ingest.state.completion import finish
from ingest.state.markers import missing_batches
from ingest.state.plan import Plan
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.context import RunContext
from ingest.tmdb.media import MOVIE_SOURCE, Source
from ingest.tmdb.planner import GenrePlanner
from ingest.tmdb.pool import BatchPool
from ingest.tmdb.refresh import full_run_requests, note_plan
from ingest.tmdb.sink import FetchTally

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class MoviesFetched:
    """A genre's movie plan after this run's fetch: what the collections stage starts from."""

    plan: Plan
    target: int
    done: bool
    failures: list[str]
    # Collection ids per batch number, from this run's answers.
    collections: dict[int, list[int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GenreRun:
    """A genre's part of the stage (``ingest.tmdb.stage.DatasetRun``)."""

    genre: Genre
    # Its movies (and their collections), or its TV series.
    source: Source = MOVIE_SOURCE

    async def run(self, ctx: RunContext, client: TmdbClient) -> tuple[bool, list[str]]:
        return await GenreCrawler(ctx, client).genre(self.genre, self.source)


class GenreCrawler:
    """One genre at a time: its movies, then (if asked) its collections."""

    def __init__(self, ctx: RunContext, client: TmdbClient) -> None:
        self._lake = ctx.lake
        self._settings = ctx.settings
        self._stats = ctx.stats
        self._stop = ctx.stop
        self._progress = ctx.progress
        self._client = client
        self._planner = GenrePlanner(
            ctx.lake,
            ctx.settings.date,
            ctx.settings.job,
            client,
            ctx.stats,
            ctx.progress,
            ctx.settings.tmdb.append,
        )

    async def genre(self, genre: Genre, source: Source = MOVIE_SOURCE) -> tuple[bool, list[str]]:
        """Return whether the genre is whole in the lake, and what failed."""
        movies = await self.movies(genre, source)
        if not movies.done or not self._settings.job.collections or not source.has_collections:
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

    async def movies(self, genre: Genre, source: Source = MOVIE_SOURCE) -> MoviesFetched:
        plan = await self._planner.movies(genre, source)
        note_plan(self._stats, plan)
        target = plan.target(self._settings.job.limit)
        self._stats.planned += target
        fetched, done = await self._fetch(plan, target)
        if done:
            await self._completed(plan, plan)
        failures = fetched.failures(genre.slug, str(source.kind))
        return MoviesFetched(plan, target, done, failures, fetched.collections)

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
