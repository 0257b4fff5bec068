"""Making or reusing a genre's plans: which movie ids it fetches, then which collections.

A movie plan is reused when it covers the run's ``--limit``; otherwise discover runs and
its ids are appended (a plan only grows). A collection plan is reused when it was drawn
from the same movie plan and covers as many movies; otherwise the collection ids of the
planned movies (``ingest.tmdb.collections``) are frozen into it, appended likewise.
Each plan keeps a history entry per time it was fed. A dataset's first plan is created in
the lake, not overwritten: runs that plan the same genre at once all go on with the one
that won (``plan_adopted``). Growing a plan later is still a plain write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.reports.counts import TmdbStats
from ingest.settings.appends import Appends
from ingest.settings.config import Job
from ingest.settings.genres import Genre
from ingest.state.plan import Plan, create_plan, load_plan, save_plan
from ingest.tmdb.changes import ChangesOverflow, ChangesReader
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.collections import collection_ids
from ingest.tmdb.discover import Discoverer
from ingest.tmdb.discover_window import Enumeration
from ingest.tmdb.media import MOVIE_SOURCE, Source
from ingest.tmdb.refresh import FULL, INCREMENTAL, Refresh, decide, fell_back, incremental_plan

log = structlog.get_logger(__name__)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class GenrePlanner:
    def __init__(
        self,
        lake: Lake,
        date: dt.date,
        job: Job,
        client: TmdbClient,
        stats: TmdbStats,
        progress: bool,
        append: Appends | None = None,
    ) -> None:
        # The whole job, never parts of it: a plan made from defaults (refresh mode,
        # collections, the gap limit) instead of what the run asked for is a wrong plan.
        self._lake = lake
        self._date = date
        self._limit = job.limit
        self._job = job
        self._client = client
        self._stats = stats
        self._progress = progress
        # The sub-resources a new plan's records are fetched with, per media.
        self._append = append or Appends()

    @property
    def _frozen_event(self) -> str:
        # A dry run's log must not say a plan was frozen: nothing was.
        return "plan_drawn_not_frozen" if self._job.dry_run else "plan_frozen"

    async def _create(self, plan: Plan) -> Plan:
        # A dry run writes nothing: the plan it would freeze is only looked at.
        return plan if self._job.dry_run else await create_plan(self._lake, plan)

    async def _save(self, plan: Plan) -> None:
        if not self._job.dry_run:
            await save_plan(self._lake, plan)

    async def movies(self, genre: Genre, source: Source = MOVIE_SOURCE) -> Plan:
        """The plan of ``genre``'s records of ``source`` (its movies, or its TV series)."""
        plan = await load_plan(self._lake, self._date, source.kind, genre.slug)
        # A frozen plan is reused whatever its mode, except that a full refresh turns an
        # incremental plan into a snapshot (by appending the members it skipped).
        upgrade = self._job.refresh == FULL and plan is not None and plan.refresh == INCREMENTAL
        if plan is not None and plan.covers(self._limit) and not upgrade:
            log.info(
                "plan_reused",
                kind=str(source.kind),
                genre=genre.slug,
                ids=len(plan.ids),
                plan_id=plan.plan_id,
                refresh=plan.refresh,
            )
            return plan
        if plan is None:
            wanted = self._append.of(str(source.kind))
            refresh = await decide(self._lake, genre, self._date, self._job, source.kind, wanted)
            if refresh.mode == INCREMENTAL:
                try:
                    return await self._incremental(genre, refresh, source)
                except* ChangesOverflow as group:
                    refresh = fell_back(genre, "changes_feed_overflow", error=str(group.exceptions[0]))
            return await self._discover(genre, plan, source, refresh.because)
        return await self._discover(genre, plan, source)

    async def _incremental(self, genre: Genre, refresh: Refresh, source: Source) -> Plan:
        assert refresh.since is not None
        changes = await ChangesReader(self._client, path=source.changes).read(refresh.since, self._date)
        attempts_before = self._stats.requests
        found = await Discoverer(self._client, genre, progress=self._progress, source=source).run(None)
        entry = self._entry(found, attempts_before, source)
        wanted = self._append.of(str(source.kind))
        mine = incremental_plan(genre, self._date, refresh, changes, found, entry, source.kind, wanted)
        # Created once, as a full plan is: a run that lost the race goes on with the winner's.
        plan = await self._create(mine)
        if plan.plan_id != mine.plan_id:
            log.info(
                "plan_adopted",
                kind=str(source.kind),
                genre=genre.slug,
                plan_id=plan.plan_id,
                ids=len(plan.ids),
            )
            return plan
        counts = {k: v for k, v in (plan.increment or {}).items() if k not in ("left_genre", "windows")}
        log.info(
            self._frozen_event,
            kind=str(source.kind),
            genre=genre.slug,
            plan_id=plan.plan_id,
            refresh=plan.refresh,
            ids=len(plan.ids),
            members=len(found.ids),
            left_genre=len((plan.increment or {}).get("left_genre", ())),
            **counts,
        )
        return plan

    def _entry(self, found: Enumeration, attempts_before: int, source: Source) -> dict[str, Any]:
        return {
            "at": _now(),
            "limit": self._limit,
            "total_results": found.total_results,
            "found": len(found.ids),
            "gap": found.gap,
            "gap_reason": found.gap_reason,
            # Discover results without a usable id, skipped.
            "unusable_results": found.unusable,
            "windows": found.windows,
            "discover_requests": found.requests,
            "discover_attempts": self._stats.requests - attempts_before,
            # Whether this run also wanted the genre's collections: ``status`` then knows a
            # date whose movies are all in but whose collections were never planned (a run
            # stopped in between) is not complete.
            "collections": self._job.collections and source.has_collections,
        }

    async def _discover(
        self, genre: Genre, old: Plan | None, source: Source, because: str | None = None
    ) -> Plan:
        attempts_before = self._stats.requests
        found = await Discoverer(self._client, genre, progress=self._progress, source=source).run(self._limit)
        entry = self._entry(found, attempts_before, source)
        if old is None:
            mine = Plan(
                source.kind,
                genre.id,
                genre.slug,
                self._date,
                found.ids,
                complete=found.complete,
                limit=None if found.complete else self._limit,
                history=(entry,),
                append=self._append.of(str(source.kind)),
                full_because=because,
            )
            plan = await self._create(mine)
            if plan.plan_id != mine.plan_id:
                log.info(
                    "plan_adopted",
                    kind=str(source.kind),
                    genre=genre.slug,
                    plan_id=plan.plan_id,
                    ids=len(plan.ids),
                )
                if plan.covers(self._limit):
                    return plan
                old = plan
        if old is not None:
            plan = old.extended(
                found.ids,
                complete=old.complete or found.complete,
                limit=None if found.complete else max(old.limit or 0, self._limit or 0),
                history=(*old.history, entry),
                # Appending the members an incremental plan skipped makes it a snapshot.
                refresh=FULL,
                members=None,
                increment=None,
            )
            await self._save(plan)
        appended = len(plan.ids) - (len(old.ids) if old else 0)
        log.info(
            self._frozen_event,
            kind=str(source.kind),
            genre=genre.slug,
            plan_id=plan.plan_id,
            ids=len(plan.ids),
            appended=appended,
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

    async def collections(
        self, genre: Genre, movies: Plan, target: int, known: Mapping[int, Sequence[int]]
    ) -> Plan:
        """The collection plan for ``movies``' first ``target`` ids; ``known`` holds the
        collection ids of the batches fetched in this run."""
        plan = await load_plan(self._lake, self._date, Kind.COLLECTIONS, genre.slug)
        if plan is not None and plan.source_plan_id == movies.plan_id and plan.covered >= target:
            log.info(
                "plan_reused", kind="collections", genre=genre.slug, ids=len(plan.ids), plan_id=plan.plan_id
            )
            return plan
        ids = await collection_ids(self._lake, movies, target, known)
        entry: dict[str, Any] = {"at": _now(), "movies": target, "found": len(ids)}
        fresh = Plan(
            Kind.COLLECTIONS,
            genre.id,
            genre.slug,
            self._date,
            tuple(ids),
            complete=True,
            source_plan_id=movies.plan_id,
            covered=target,
            history=(entry,),
            # The collections of an incremental movie plan are an increment too.
            refresh=movies.refresh,
        )
        if plan is None:
            plan = await self._create(fresh)
            if plan.plan_id != fresh.plan_id:
                log.info("plan_adopted", kind="collections", genre=genre.slug, plan_id=plan.plan_id)
                if plan.source_plan_id == movies.plan_id and plan.covered >= target:
                    return plan
        if plan.plan_id != fresh.plan_id:
            plan = (
                fresh
                if plan.source_plan_id != movies.plan_id
                else plan.extended(
                    ids, covered=target, history=(*plan.history, entry), refresh=movies.refresh
                )
            )
            await self._save(plan)
        log.info(
            self._frozen_event,
            kind="collections",
            genre=genre.slug,
            plan_id=plan.plan_id,
            ids=len(plan.ids),
            movies=target,
        )
        return plan
