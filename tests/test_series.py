"""TMDB's TV series beside the movies, end to end over HTTP: the stand-in's TV API on one
side, a real lake on the other (a directory, and moto's S3 for the queue's case).

Every series of a TV genre lands once with its keywords (under ``results``) and its IMDb
id (``external_ids``), at about one request a series, in ``Raw/TMDB/JSON/Series/``; the
discover walk reaches past the 10,000 cap; an incremental day fetches only the changed and
new series and records the removed ones; a movie and a series of the same id both land;
``status`` names the series rows and says when a day is complete.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
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
from ingest.settings.appends import Appends
from ingest.settings.config import load_settings
from ingest.settings.genres import resolve_genre
from ingest.standin import DAY0, Catalog, DailyChange, Standin, TvCatalog
from ingest.state import open_lake
from ingest.state.cursor import read_cursor
from ingest.state.markers import missing_batches
from ingest.state.plan import load_plan
from ingest.state.removed import read_removed
from ingest.state.runs import RunRequest, record_request
from ingest.stop import Stop
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.media import SERIES_SOURCE
from ingest.tmdb.planner import GenrePlanner
from ingest.tmdb.stage import run_tmdb
from tests.helpers import cli_command, cli_env, eventually, flags
from tests.queue_kit import Queues, enqueue, env_for, queue_depth, start_worker, write_config
from tests.tmdb_fixtures import DATE, FAST, lake_files, records, settings_for

CRIME, WAR, WAR_POLITICS = 80, 10752, 10768
CHURN = DailyChange(changed=0.05, added=0.02, removed=0.01)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def catalogues(tv_sizes: dict[int, int], *, movies: int = 120) -> tuple[Catalog, TvCatalog]:
    films = Catalog.synthetic({CRIME: movies, WAR: movies}, seed=3, daily=CHURN)
    return films, TvCatalog.synthetic(tv_sizes, seed=3, movie_ids=films.movies, daily=CHURN)


def settings(url: str, lake: str, date: dt.date, media: tuple[str, ...], **job: Any) -> Any:
    s = settings_for(url, lake, date=date, genres=("crime", "war"), collections=True, concurrency=16)
    return replace(s, job=replace(s.job, media=media, **job))


async def crawl(lake: Lake, url: str, date: dt.date, media: tuple[str, ...], **job: Any) -> TmdbStats:
    stats = TmdbStats()
    assert await run_tmdb(
        lake, settings(url, lake.url, date, media, **job), stats, stop=Stop(), progress=False, tuning=FAST
    )
    return stats


async def series(lake: Lake, genre: str, date: dt.date) -> list[dict[str, Any]]:
    return records(await lake_files(lake, Kind.SERIES, genre, date))


async def test_every_series_of_each_genre_lands_once_with_keywords_and_imdb_id(tmp_path: Path) -> None:
    films, tv = catalogues({CRIME: 250, WAR_POLITICS: 130})
    standin = Standin(films, tv=tv)
    async with standin.serve(), open_lake(str(tmp_path / "lake")) as lake:
        stats = await crawl(lake, standin.url, DAY0, ("movies", "series"))
        crime, war = await series(lake, "crime", DAY0), await series(lake, "war-politics", DAY0)
        movies = records(await lake_files(lake, Kind.MOVIES, "crime", DAY0))
        keys = await lake.list("Raw/TMDB/JSON/Series/")
    assert sorted(r["id"] for r in crime) == sorted(tv.genre_ids(CRIME))
    assert sorted(r["id"] for r in war) == sorted(tv.genre_ids(WAR_POLITICS))
    assert all(isinstance(r["keywords"]["results"], list) and "external_ids" in r for r in crime + war)
    with_imdb = [r for r in crime if r["external_ids"].get("imdb_id")]
    assert with_imdb and all(r["external_ids"]["imdb_id"].startswith("tt") for r in with_imdb)
    assert {k.rsplit("/", 1)[1].rsplit("-", 1)[0] for k in keys} == {"crime", "war-politics"}
    assert "Raw/TMDB/JSON/Series/2026/11/01/war-politics-00001.json" in keys
    # About one request a series, the discover pages included.
    series_requests = standin.counters.requests["tv"] + standin.counters.requests["discover_tv"]
    assert series_requests <= 1.06 * (len(crime) + len(war))
    assert stats.series_written == len(crime) + len(war)
    # The same id as a movie and as a series: both land, each in its own dataset.
    both = {r["id"] for r in movies} & {r["id"] for r in crime + war}
    assert both, "the stand-in gave no series a movie's id: the test would prove nothing"
    assert all(standin.counters.movie_requests[i] and standin.counters.series_ok[i] for i in both)


async def test_the_discover_walk_reaches_past_the_cap(tmp_path: Path) -> None:
    films, tv = catalogues({WAR_POLITICS: 10_120}, movies=10)
    standin = Standin(films, tv=tv)
    async with standin.serve(), open_lake(str(tmp_path / "lake")) as lake:
        s = settings(standin.url, lake.url, DAY0, ("series",))
        async with TmdbClient(s.tmdb, TmdbStats(), tuning=FAST) as client:
            planner = GenrePlanner(lake, DAY0, s.job, client, TmdbStats(), progress=False)
            plan = await planner.movies(resolve_genre("war", "series"), SERIES_SOURCE)
    assert plan.kind is Kind.SERIES and plan.complete
    assert set(plan.ids) == tv.genre_ids(WAR_POLITICS) and len(plan.ids) > 10_000


async def test_an_incremental_day_fetches_only_changed_and_new_series(tmp_path: Path) -> None:
    films, tv = catalogues({CRIME: 300})
    standin = Standin(films, tv=tv)
    async with standin.serve(), open_lake(str(tmp_path / "lake")) as lake:
        await crawl(lake, standin.url, DAY0, ("series",), genres=(resolve_genre("crime"),))
        standin.day = 1
        before = standin.counters.series_ok.copy()
        stats = await crawl(lake, standin.url, day(1), ("series",), genres=(resolve_genre("crime"),))
        plan = await load_plan(lake, day(1), Kind.SERIES, "crime")
        removed = await read_removed(lake, day(1), "crime", Kind.SERIES)
    after = standin.tv.at_day(1) if standin.tv.day == 0 else standin.tv
    was, now = tv.genre_ids(CRIME), after.genre_ids(CRIME)
    changed = set(after.changed_between(0, 1))
    expected = {i for i in now if i not in was or i in changed}
    assert expected and len(expected) < len(now)
    assert plan is not None and plan.refresh == "incremental" and set(plan.ids) == expected
    fetched_today = {i for i, n in standin.counters.series_ok.items() if n > before.get(i, 0)}
    assert fetched_today == expected
    assert stats.refresh == {"crime series": "incremental"}
    assert removed is not None and set(removed.left_genre) | set(removed.not_found) == was - now


def status(lake: Path, date: dt.date) -> tuple[int, dict[str, Any]]:
    return status_of(str(lake), date)


def status_of(lake: str, date: dt.date) -> tuple[int, dict[str, Any]]:
    # The AWS endpoint, where there is one, is in this process' environment (``aws_env``).
    done = subprocess.run(
        cli_command("status", "--lake", lake, "--date", date.isoformat(), "--json"),
        capture_output=True,
        env=cli_env(),
        check=False,
    )
    return done.returncode, orjson.loads(done.stdout)


async def test_status_names_the_series_rows_and_a_complete_day(tmp_path: Path) -> None:
    films, tv = catalogues({CRIME: 120, WAR_POLITICS: 60}, movies=60)
    standin = Standin(films, tv=tv)
    root = tmp_path / "lake"
    async with standin.serve(), open_lake(str(root)) as lake:
        s = settings(standin.url, lake.url, DAY0, ("movies", "series"))
        await record_request(lake, RunRequest.of(s, "cli"))
        assert await run_tmdb(lake, s, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
    code, body = status(root, DAY0)
    rows = {f"{t['genre']} {t['kind']}": t["state"] for t in body["tmdb"]}
    assert code == 0, body
    assert rows == {
        "crime movies": "ok",
        "crime collections": "ok",
        "crime series": "ok",
        "war movies": "ok",
        "war collections": "ok",
        "war-politics series": "ok",
    }
    # A data file gone: the series row says so, and the day is not complete.
    (root / "Raw/TMDB/JSON/Series/2026/11/01/crime-00001.json").unlink()
    code, body = status(root, DAY0)
    assert code == 1 and {t["state"] for t in body["tmdb"] if t["kind"] == "series"} == {"missing", "ok"}


def test_a_movie_only_genre_asked_for_series_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"not one of TMDB.s TV genres.*war-politics"):
        load_settings(flags(genres=("horror",), media=("series",)), env={})
    job = load_settings(flags(genres=("war",), media=("movies,series",)), env={}).job
    assert [g.id for g in job.movie_genres] == [WAR] and [g.id for g in job.series_genres] == [WAR_POLITICS]


async def test_the_tv_catalogue_lands_from_its_export_then_incrementally(tmp_path: Path) -> None:
    films, tv = catalogues({CRIME: 150, WAR_POLITICS: 90}, movies=30)
    standin = Standin(films, tv=tv)
    async with standin.serve(), open_lake(str(tmp_path / "lake")) as lake:
        exports = replace(settings_for(standin.url, lake.url).tmdb, exports_url=standin.url + "/p/exports")

        async def whole(date: dt.date) -> TmdbStats:
            s = settings(standin.url, lake.url, date, ("series",), genres=(), movies=False, collections=False)
            s = replace(s, tmdb=exports, job=replace(s.job, catalogue=True))
            stats = TmdbStats()
            assert await run_tmdb(lake, s, stats, stop=Stop(), progress=False, tuning=FAST)
            return stats

        await whole(DAY0)
        first = await series(lake, "catalogue", DAY0)
        keys = await lake.list("Raw/TMDB/JSON/Series/2026/11/01/")
        standin.day = 1
        before = standin.counters.series_ok.copy()
        stats = await whole(day(1))
        second = await series(lake, "catalogue", day(1))
    listed = {i for i, s in tv.series.items() if not s.adult}
    assert sorted(r["id"] for r in first) == sorted(listed)
    assert keys and all(
        k.rsplit("/", 1)[1].startswith("catalogue-") and len(k.rsplit("-", 1)[1]) == 11 for k in keys
    )
    after = standin.tv
    now = {i for i, s in after.series.items() if not s.adult}
    expected = {i for i in now if i not in listed or i in set(after.changed_between(0, 1))}
    assert {r["id"] for r in second} == expected and len(expected) < len(now)
    assert {i for i, n in standin.counters.series_ok.items() if n > before.get(i, 0)} == expected
    assert stats.refresh == {"catalogue series": "incremental"}


async def test_appending_credits_stores_them_and_a_changed_list_makes_the_day_full(tmp_path: Path) -> None:
    films, tv = catalogues({CRIME: 120}, movies=20)
    standin = Standin(films, tv=tv)
    root = tmp_path / "lake"
    crime = (resolve_genre("crime"),)
    with_credits = Appends(series=("keywords", "external_ids", "credits"))
    async with standin.serve(), open_lake(str(root)) as lake:

        async def run(date: dt.date, append: Appends) -> TmdbStats:
            s = settings(standin.url, lake.url, date, ("series",), genres=crime)
            s = replace(s, tmdb=replace(s.tmdb, append=append))
            await record_request(lake, RunRequest.of(s, "cli"))
            stats = TmdbStats()
            assert await run_tmdb(lake, s, stats, stop=Stop(), progress=False, tuning=FAST)
            return stats

        await run(DAY0, Appends())
        standin.day = 1
        with capture_logs() as logs:
            await run(day(1), with_credits)
        first_full = await series(lake, "crime", day(1))
        plan = await load_plan(lake, day(1), Kind.SERIES, "crime")
        standin.day = 2
        await run(day(2), with_credits)
        then = await load_plan(lake, day(2), Kind.SERIES, "crime")
    # Day 1 asked for credits: every series again, each with its credits, and it says why.
    assert sorted(r["id"] for r in first_full) == sorted(tv.at_day(1).genre_ids(CRIME))
    assert all(isinstance(r.get("credits", {}).get("cast"), list) for r in first_full)
    assert plan is not None and plan.refresh == "full" and plan.full_because == "append_changed"
    assert plan.append == with_credits.series
    assert any(e["event"] == "refresh_fell_back_to_full" and e["reason"] == "append_changed" for e in logs)
    code, body = status(root, day(1))
    row = next(t for t in body["tmdb"] if t["kind"] == "series")
    assert code == 0 and row["full_because"] == "append_changed"
    # The same list the day after: incremental again.
    assert then is not None and then.refresh == "incremental" and then.append == with_credits.series


async def test_the_queue_fleet_lands_the_series_as_a_one_shot_run_does(
    tmp_path: Path, aws_env: str, s3_lake_url: str, new_queues: Callable[..., Queues]
) -> None:
    films, tv = catalogues({CRIME: 130, WAR_POLITICS: 70}, movies=60)
    queues = new_queues(max_receives=5, visibility_s=30)
    config = write_config(tmp_path, visibility_s=30)
    standin = Standin(films, tv=tv)
    async with standin.serve() as url, open_lake(s3_lake_url) as lake:
        env = env_for(url, s3_lake_url, queues.url)
        rc, err = await enqueue(
            env, tmp_path, "--genre", "crime", "--genre", "war", "--media", "movies,series"
        )
        assert rc == 0, err[-2000:]
        workers = [await start_worker(env, tmp_path, config, n) for n in range(2)]

        async def whole() -> bool:
            for w in workers:
                assert w.proc.returncode is None, w.log.read_text()[-3000:]
            for kind, slug in ((Kind.SERIES, "crime"), (Kind.SERIES, "war-politics"), (Kind.MOVIES, "war")):
                plan = await load_plan(lake, DATE, kind, slug)
                if plan is None or await missing_batches(lake, plan, len(plan.ids)):
                    return False
            return queue_depth(aws_env, queues.url) == 0

        try:
            await eventually(whole, "the workers to finish", within_s=300, every_s=0.2)
        finally:
            codes = [await w.terminate() for w in workers]
        assert codes == [0, 0]
        for genre, slug in ((CRIME, "crime"), (WAR_POLITICS, "war-politics")):
            ids = [r["id"] for r in await series(lake, slug, DATE)]
            assert sorted(ids) == sorted(tv.genre_ids(genre))
            cursor = await read_cursor(lake, Kind.SERIES, slug)
            assert cursor is not None and cursor.date == DATE
            assert await read_removed(lake, DATE, slug, Kind.SERIES) is not None
        movies = [r["id"] for r in records(await lake_files(lake, Kind.MOVIES, "war", DATE))]
        assert sorted(movies) == sorted(films.genre_ids(WAR))
    code, body = status_of(s3_lake_url, DATE)
    assert code == 0, body
