"""The daily incremental refresh, end to end: the TMDB stand-in's clock and changes feed
over HTTP on one side, a real lake (moto's S3, or a directory) on the other.

Day 0 is a full run; later days fetch only the members new to the genre or changed since
the last complete run, and every assertion reads back what the lake holds or what the
stand-in saw.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from ingest.errors import ConfigError
from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.reports.counts import TmdbStats
from ingest.settings.config import load_settings
from ingest.standin import DAY0, Catalog, DailyChange, Standin
from ingest.state import open_lake
from ingest.state.cursor import read_cursor
from ingest.state.plan import load_plan
from ingest.state.removed import read_removed
from ingest.status import main as status_main
from ingest.stop import Stop
from ingest.tmdb.changes import ChangesOverflow, ChangesReader
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.stage import run_tmdb
from tests.helpers import flags
from tests.tmdb_fixtures import FAST, lake_files, records, settings_for

WAR = 10752
# The day: 3% of the movies change, 1% are added, 0.2% removed.
CHURN = DailyChange(changed=0.03, added=0.01, removed=0.002)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


async def crawl(
    lake: Lake, url: str, n: int, *, refresh: str = "incremental", collections: bool = True, **job: Any
) -> TmdbStats:
    """Run stage 2 for War on day ``n`` of the stand-in's calendar; return its counts."""
    settings = settings_for(url, lake.url, date=day(n), collections=collections, concurrency=16)
    settings = replace(settings, job=replace(settings.job, refresh=refresh, **job))
    stats = TmdbStats()
    assert await run_tmdb(lake, settings, stats, stop=Stop(), progress=False, tuning=FAST)
    return stats


def expected_increment(before: Catalog, after: Catalog) -> set[int]:
    """The members of War on ``after``'s day that are new to it or changed since ``before``."""
    was = before.genre_ids(WAR)
    changed = set(after.changed_between(before.day, after.day))
    return {i for i in after.genre_ids(WAR) if i not in was or i in changed}


async def partition(lake: Lake, kind: Kind, n: int) -> list[dict[str, Any]]:
    return records(await lake_files(lake, kind, "war", day(n)))


async def test_a_day_of_churn_fetches_exactly_the_changed_and_new_members(s3_lake: Lake) -> None:
    # Enough members for an increment of two batches and a changes feed of two pages.
    members = 3000
    day0 = Catalog.synthetic({WAR: members}, seed=11, daily=CHURN)
    day1 = day0.at_day(1)
    standin = Standin(day0)
    async with standin.serve():
        full = await crawl(s3_lake, standin.url, 0)
        assert full.refresh == {"war": "full"} and full.written == members
        standin.day = 1
        standin.counters = type(standin.counters)()
        stats = await crawl(s3_lake, standin.url, 1)
        seen = standin.counters
        movies = await partition(s3_lake, Kind.MOVIES, 1)
        collections = await partition(s3_lake, Kind.COLLECTIONS, 1)
        plan = await load_plan(s3_lake, day(1), Kind.MOVIES, "war")
        removed = await read_removed(s3_lake, day(1), "war")
        cursors = [await read_cursor(s3_lake, kind, "war") for kind in Kind]
        snapshot = await load_plan(s3_lake, day(0), Kind.COLLECTIONS, "war")

    wanted = expected_increment(day0, day1)
    ids = [m["id"] for m in movies]
    # Exactly the changed and new members, each once, each with its day-1 body.
    assert Counter(ids).most_common(1)[0][1] == 1 and set(ids) == wanted
    assert 0.03 * members < len(wanted) < 0.05 * members and len(wanted) > 100
    for m in movies:
        assert orjson.dumps(m) == orjson.dumps(day1.detail(m["id"], {"keywords"}))
    # No unchanged movie was asked for, and each planned one once.
    assert set(seen.movie_requests) == wanted and set(seen.movie_requests.values()) == {1}
    # Their collections, once each.
    cids = [c["id"] for c in collections]
    assert len(cids) == len(set(cids)) and set(cids) == day1.collection_ids(wanted)
    assert set(seen.collection_requests) == set(cids)
    # Removed: the members of day 0 that left the genre (deleted or re-genred).
    gone = day0.genre_ids(WAR) - day1.genre_ids(WAR)
    assert gone and removed is not None and set(removed.left_genre) == gone
    assert stats.removed == len(gone) and removed.not_found == ()
    # Requests: discover pages + changes pages + fetched movies + their collections.
    assert plan is not None and plan.increment is not None
    changes_pages = math.ceil(len(day1.changed_between(0, 1)) / 100)
    assert changes_pages > 1
    assert seen.requests["changes"] == changes_pages and plan.increment["changes_requests"] == changes_pages
    discover = plan.increment["discover_requests"]
    assert seen.requests["discover"] == discover
    assert seen.total == stats.requests == discover + changes_pages + len(wanted) + len(cids)
    # A full run's cost: the same discover pages, every member, the snapshot's collections.
    assert snapshot is not None
    assert stats.full_run_requests == discover + len(day1.genre_ids(WAR)) + len(snapshot.ids)
    assert seen.total * 10 < stats.full_run_requests
    # The summary: mode, window, counts.
    assert stats.refresh == {"war": "incremental"}
    assert stats.windows == {"war": f"{day(0)}..{day(1)}"}
    assert stats.changed + stats.new == stats.planned == len(wanted)
    assert stats.new == len(day1.genre_ids(WAR) - day0.genre_ids(WAR))
    assert stats.unchanged_skipped == len(day1.genre_ids(WAR)) - len(wanted)
    # Both cursors moved to day 1, in the incremental mode.
    assert [(c.date, c.mode) for c in cursors if c] == [(day(1), "incremental")] * 2
    # The members list the next run diffs against: every member now, in discover order.
    assert set(plan.genre_members) == day1.genre_ids(WAR)


@pytest.fixture
def churny() -> Catalog:
    """A small genre with a lot of churn, so a day's changes span several batches."""
    return Catalog.synthetic({WAR: 800}, seed=5, daily=DailyChange(changed=0.2, added=0.05, removed=0.01))


async def test_a_20_day_gap_is_walked_in_two_windows(tmp_path: Path, churny: Catalog) -> None:
    standin = Standin(churny)
    async with standin.serve(), open_lake(str(tmp_path)) as lake:
        await crawl(lake, standin.url, 0, collections=False)
        standin.day = 20
        standin.counters = type(standin.counters)()
        stats = await crawl(lake, standin.url, 20, collections=False)
        queries = standin.counters.changes_queries
        ids = [m["id"] for m in await partition(lake, Kind.MOVIES, 20)]
        catalog = standin.catalog
    windows = {(day(0).isoformat(), day(13).isoformat()), (day(14).isoformat(), day(20).isoformat())}
    assert set(queries) == windows
    # Every page of each window, once.
    for lo, hi in windows:
        first, last = (dt.date.fromisoformat(d) - DAY0 for d in (lo, hi))
        assert queries[(lo, hi)] == math.ceil(len(catalog.changed_between(first.days, last.days)) / 100)
    assert stats.windows == {"war": f"{day(0)}..{day(20)}"}
    assert len(ids) == len(set(ids)) and set(ids) == expected_increment(churny, catalog)


async def test_refresh_full_on_day_1_gives_a_complete_snapshot(tmp_path: Path, churny: Catalog) -> None:
    standin = Standin(churny)
    async with standin.serve(), open_lake(str(tmp_path)) as lake:
        await crawl(lake, standin.url, 0)
        standin.day = 1
        standin.counters = type(standin.counters)()
        stats = await crawl(lake, standin.url, 1, refresh="full")
        ids = [m["id"] for m in await partition(lake, Kind.MOVIES, 1)]
        cursor = await read_cursor(lake, Kind.MOVIES, "war")
        plan = await load_plan(lake, day(1), Kind.MOVIES, "war")
        catalog = standin.catalog
        changes = standin.counters.requests["changes"]
    assert len(ids) == len(set(ids)) and set(ids) == catalog.genre_ids(WAR)
    assert stats.refresh == {"war": "full"} and changes == 0
    assert plan is not None and plan.refresh == "full" and plan.members is None
    assert cursor is not None and (cursor.date, cursor.mode) == (day(1), "full")


async def test_full_after_an_incremental_plan_appends_the_rest(tmp_path: Path, churny: Catalog) -> None:
    """The same date asked again with --refresh full becomes a snapshot: the incremental
    batches stay, the members they skipped are appended."""
    standin = Standin(churny)
    async with standin.serve(), open_lake(str(tmp_path)) as lake:
        await crawl(lake, standin.url, 0, collections=False)
        standin.day = 1
        await crawl(lake, standin.url, 1, collections=False)
        first = await lake_files(lake, Kind.MOVIES, "war", day(1))
        standin.counters = type(standin.counters)()
        await crawl(lake, standin.url, 1, collections=False, refresh="full")
        after = await lake_files(lake, Kind.MOVIES, "war", day(1))
        refetched = set(standin.counters.movie_requests)
        catalog = standin.catalog
    ids = [r["id"] for r in records(after)]
    assert len(ids) == len(set(ids)) and set(ids) == catalog.genre_ids(WAR)
    # The whole batches of the incremental plan were kept, not fetched again.
    whole = [k for k, v in first.items() if len(v.splitlines()) == 100]
    assert whole and all(after[k] == first[k] for k in whole)
    assert not refetched & {r["id"] for k in whole for r in records({k: first[k]})}


@pytest.mark.parametrize(
    ("gap_days", "max_gap", "backfill", "reason"),
    [(10, 5, False, "gap_too_long"), (3, 60, True, "cursor_after_date")],
)
async def test_a_long_gap_or_a_backfill_falls_back_to_full(
    tmp_path: Path, churny: Catalog, gap_days: int, max_gap: int, backfill: bool, reason: str
) -> None:
    standin = Standin(churny)
    async with standin.serve(), open_lake(str(tmp_path)) as lake:
        first = gap_days if backfill else 0
        standin.day = first
        await crawl(lake, standin.url, first, collections=False)
        target = 1 if backfill else gap_days
        standin.day = target
        standin.counters = type(standin.counters)()
        with capture_logs() as logs:
            stats = await crawl(
                lake, standin.url, target, collections=False, max_incremental_gap_days=max_gap
            )
        ids = [m["id"] for m in await partition(lake, Kind.MOVIES, target)]
        cursor = await read_cursor(lake, Kind.MOVIES, "war")
        catalog = standin.catalog
    fell = [e for e in logs if e["event"] == "refresh_fell_back_to_full"]
    assert [e["reason"] for e in fell] == [reason] and fell[0]["genre"] == "war"
    assert stats.refresh == {"war": "full"} and standin.counters.requests["changes"] == 0
    assert set(ids) == catalog.genre_ids(WAR) and len(ids) == len(set(ids))
    # The cursor never goes back.
    assert cursor is not None and cursor.date == day(max(first, target))


async def test_status_shows_the_refresh_the_removed_and_the_cursor(
    tmp_path: Path, churny: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    standin = Standin(churny)
    async with standin.serve(), open_lake(str(tmp_path)) as lake:
        await crawl(lake, standin.url, 0)
        standin.day = 1
        # One planned movie answers 404 when fetched: it counts as removed too.
        plan_day1 = expected_increment(churny, churny.at_day(1))
        standin.gone_ids = {min(plan_day1)}
        await crawl(lake, standin.url, 1)
        removed = await read_removed(lake, day(1), "war")
    assert removed is not None and removed.not_found == (min(plan_day1),)
    capsys.readouterr()
    args = ["--lake", str(tmp_path), "--date", day(1).isoformat()]
    # The command runs its own event loop: off this test's loop.
    assert await asyncio.to_thread(status_main, [*args, "--json"]) == 0
    body = orjson.loads(capsys.readouterr().out)
    movies, colls = (next(t for t in body["tmdb"] if t["kind"] == k) for k in ("movies", "collections"))
    assert movies["refresh"] == colls["refresh"] == "incremental" and movies["removed"] == removed.count > 1
    assert movies["cursor"] == colls["cursor"] == day(1).isoformat()
    assert movies["not_found"] == 1 and movies["planned"] == len(plan_day1)
    assert await asyncio.to_thread(status_main, args) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("war movies"))
    assert "incremental" in row and day(1).isoformat() in row and f" {removed.count} " in row


async def test_a_day_without_changes_writes_nothing_and_moves_the_cursor(tmp_path: Path) -> None:
    still = Catalog.synthetic({WAR: 300}, seed=2, daily=DailyChange(changed=0, added=0, removed=0))
    standin = Standin(still)
    async with standin.serve(), open_lake(str(tmp_path)) as lake:
        await crawl(lake, standin.url, 0)
        standin.day = 1
        standin.counters = type(standin.counters)()
        stats = await crawl(lake, standin.url, 1)
        movies = await lake_files(lake, Kind.MOVIES, "war", day(1))
        standin.day = 2
        again = await crawl(lake, standin.url, 2)
        cursors = [await read_cursor(lake, kind, "war") for kind in Kind]
        snapshot = await load_plan(lake, day(0), Kind.COLLECTIONS, "war")
        plan = await load_plan(lake, day(2), Kind.MOVIES, "war")
    assert movies == {} and stats.planned == stats.written == 0
    assert stats.unchanged_skipped == 300 and stats.refresh == {"war": "incremental"}
    assert set(standin.counters.requests) == {"discover", "changes"}
    assert [c.date for c in cursors if c] == [day(2), day(2)]
    # Day 2 diffs against day 1's members; what a full run would cost carries day 0's
    # snapshot of the collections through the incremental days.
    assert again.unchanged_skipped == 300 and snapshot is not None and plan is not None
    discover = plan.history[-1]["discover_requests"]
    assert again.full_run_requests == discover + 300 + len(snapshot.ids) and len(snapshot.ids) > 10


async def test_the_changes_feed_is_cut_where_it_overflows(churny: Catalog) -> None:
    """A window with more pages than the feed serves is read in halves; a single day
    with more cannot be read whole. (The page cap is lowered to reach both cheaply.)"""
    standin = Standin(churny.at_day(4))
    async with standin.serve():
        settings = settings_for(standin.url, "unused")
        async with TmdbClient(settings.tmdb, TmdbStats(), tuning=FAST) as client:
            changes = await ChangesReader(client, max_page=3).read(day(0), day(4))
            with pytest.raises(ExceptionGroup) as caught:
                await ChangesReader(client, max_page=2).read(day(1), day(1))
        queries = standin.counters.changes_queries
    assert changes.ids == set(standin.catalog.changed_between(0, 4))
    assert len(changes.windows) > 1 and changes.windows[0][0] == day(0) and changes.windows[-1][1] == day(4)
    assert (day(0).isoformat(), day(4).isoformat()) in queries
    assert caught.group_contains(ChangesOverflow)


def test_the_refresh_settings_come_from_the_table(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    assert (load_settings(env=env).job.refresh, load_settings(env=env).job.max_incremental_gap_days) == (
        "incremental",
        60,
    )
    config = tmp_path / "config.toml"
    config.write_text('[job]\nrefresh = "Full"\nmax_incremental_gap_days = 7\n')
    job = load_settings(flags(config=config), env).job
    assert (job.refresh, job.max_incremental_gap_days) == ("full", 7)
    # The flag wins over the file, the event over it too; selections keep the mode.
    assert load_settings(flags(config=config, refresh="incremental", genres=("war",)), env).job.refresh == (
        "incremental"
    )
    assert load_settings(flags(config=config), env, event={"refresh": "incremental"}).job.refresh == (
        "incremental"
    )
    with pytest.raises(
        ConfigError, match=r"^--refresh must be one of full, incremental, got 'ful' \(did you mean full\?\)$"
    ):
        load_settings(flags(refresh="ful"), env)
    config.write_text("[job]\nmax_incremental_gap_days = 0\n")
    with pytest.raises(ConfigError, match=r"max_incremental_gap_days in .* must be a whole number between 1"):
        load_settings(flags(config=config), env)
