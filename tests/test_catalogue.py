"""``--catalogue``: the whole catalogue of the day's ID export, on moto's S3 and the stand-in
serving a small ``Universe`` (its exports, details and changes feed over HTTP)."""

from __future__ import annotations

import asyncio
import datetime as dt
from asyncio.subprocess import DEVNULL
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from structlog.testing import capture_logs

from ingest.errors import ConfigError
from ingest.lake import Lake
from ingest.lake.keys import Kind, tmdb_prefix
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Settings
from ingest.standin import DAY0, Catalog, Standin, Universe, standin_process
from ingest.standin.records import DailyChange
from ingest.state.catalogue_plan import load_plan, removed_ids
from ingest.status.survey import survey
from ingest.stop import Stop
from ingest.tmdb.stage import run_tmdb as run_catalogue
from tests.helpers import delete_from_lake, kill_once, run_cli, standin_env, start_cli
from tests.tmdb_fixtures import FAST, lake_files, records, settings_for

SIZE = 430
DAILY = DailyChange(changed=0.05, added=0.02, removed=0.02)


def universe(size: int = SIZE) -> Universe:
    return Universe(size, seed=7, adult_share=0.1, daily=DAILY)


def fake(u: Universe, day: int = 0, **knobs: Any) -> Standin:
    return Standin(Catalog.synthetic({}, seed=1), universe=u, day=day, **knobs)


def catalogue_settings(url: str, lake: Lake, day: int, **job: Any) -> Settings:
    settings = settings_for(url, lake.url, genres=(), movies=False, date=DAY0 + dt.timedelta(days=day))
    tmdb = replace(settings.tmdb, exports_url=url + "/p/exports")
    return replace(settings, tmdb=tmdb, job=replace(settings.job, catalogue=True, **job))


async def run(lake: Lake, url: str, day: int, stop: Stop | None = None, **job: Any) -> tuple[bool, TmdbStats]:
    stats = TmdbStats()
    settings = catalogue_settings(url, lake, day, **job)
    done = await run_catalogue(lake, settings, stats, stop=stop or Stop(), progress=False, tuning=FAST)
    return done, stats


def alive(u: Universe, day: int, *, adult: bool = False) -> set[int]:
    return {i for i in u.candidates(day) if u.alive(i, day) and (adult or not u.adult(i))}


def date_of(day: int) -> dt.date:
    return DAY0 + dt.timedelta(days=day)


async def test_a_catalogue_day_lands_every_movie_once_most_popular_first(s3_lake: Lake) -> None:
    u = universe()
    standin = fake(u)
    async with standin.serve() as url:
        done, stats = await run(s3_lake, url, 0)
        files = await lake_files(s3_lake, Kind.MOVIES, "catalogue", DAY0)
    assert done
    ids = [r["id"] for r in records(files)]
    wanted = alive(u, 0)
    assert Counter(ids).most_common(1)[0][1] == 1
    assert set(ids) == wanted
    # Adult ones are left out by default; the export lists them.
    assert any(u.adult(i) for i in alive(u, 0, adult=True)) and not any(u.adult(i) for i in ids)
    prefix = tmdb_prefix(Kind.MOVIES, DAY0)
    assert list(files) == [f"{prefix}catalogue-{n:06d}.json" for n in range(1, len(files) + 1)]
    assert [len(d.splitlines()) for d in files.values()][:-1] == [100] * (len(files) - 1)
    popularity = [u.popularity(i) for i in ids]
    assert popularity == sorted(popularity, reverse=True)
    # Details and keywords in one request each; the export once; no discover.
    assert set(standin.counters.movie_requests.values()) == {1}
    assert standin.counters.requests["exports"] == 1
    assert standin.counters.requests["discover"] == 0
    assert stats.planned == stats.written == len(wanted)
    for line in next(iter(files.values())).splitlines()[:5]:
        record = orjson.loads(line)
        assert line == orjson.dumps(u.detail(record["id"], 0, {"keywords"}))


async def test_include_adult_keeps_the_adult_movies(s3_lake: Lake) -> None:
    u = universe(150)
    async with fake(u).serve() as url:
        done, _ = await run(s3_lake, url, 0, include_adult=True)
        ids = [r["id"] for r in records(await lake_files(s3_lake, Kind.MOVIES, "catalogue", DAY0))]
    assert done
    assert sorted(ids) == sorted(alive(u, 0, adult=True))


async def test_collections_are_the_collection_export(s3_lake: Lake) -> None:
    u = universe(200)
    standin = fake(u)
    async with standin.serve() as url:
        done, stats = await run(s3_lake, url, 0, collections=True)
        files = await lake_files(s3_lake, Kind.COLLECTIONS, "catalogue", DAY0)
    assert done
    ids = [r["id"] for r in records(files)]
    assert ids == list(u.collections())
    assert stats.collections_written == len(ids) > 0
    assert all(n == 1 for n in standin.counters.collection_requests.values())
    assert next(iter(files)).endswith("/catalogue-000001.json")


async def test_a_stopped_run_resumes_exactly_once(s3_lake: Lake) -> None:
    u = universe()
    standin = fake(u, broken_ids=())
    async with standin.serve() as url:
        # One movie of the third batch answers 503 for good: its batch fails, the rest land.
        stop = Stop()
        standin.broken_ids = {sorted(alive(u, 0), key=lambda i: (-u.popularity(i), i))[250]}
        with pytest.raises(Exception, match="1 batch of catalogue movies failed \\(1 movie did not"):
            await run(s3_lake, url, 0, stop=stop)
        first = Counter(standin.counters.movie_ok)
        standin.broken_ids = set()
        done, _ = await run(s3_lake, url, 0)
        files = await lake_files(s3_lake, Kind.MOVIES, "catalogue", DAY0)
        plan = await load_plan(s3_lake, DAY0, Kind.MOVIES)
    assert done and plan is not None
    ids = [r["id"] for r in records(files)]
    assert Counter(ids).most_common(1)[0][1] == 1 and set(ids) == alive(u, 0)
    # The rerun fetched only the failed batch: 100 movies, one of them the broken one.
    again = Counter(standin.counters.movie_ok) - first
    assert sum(again.values()) == 100


async def test_the_pass_does_not_drain_between_chunks(s3_lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks of two batches; one movie of chunk 1's last batch answers two seconds late.
    # One pool feeds the next chunk meanwhile: its batch lands before the slow one.
    monkeypatch.setattr("ingest.state.catalogue_plan.CHUNK_IDS", 200)
    u = universe()
    slow = sorted(alive(u, 0), key=lambda i: (-u.popularity(i), i))[150]
    standin = fake(u, stall_ids={slow}, stall_s=2.0)
    async with standin.serve() as url:
        with capture_logs() as logs:
            done, _ = await run(s3_lake, url, 0)
    assert done
    written = [e["batch"] for e in logs if e["event"] == "batch_written"]
    assert sorted(written) == [1, 2, 3, 4]
    assert written.index(3) < written.index(2)
    assert [e["chunk"] for e in logs if e["event"] == "chunk_started"] == [2]


async def test_day_two_fetches_the_changed_and_new_and_records_the_removed(s3_lake: Lake) -> None:
    u = universe()
    standin = fake(u)
    async with standin.serve() as url:
        assert (await run(s3_lake, url, 0))[0]
        before = Counter(standin.counters.movie_requests)
        standin.day = 1
        done, _ = await run(s3_lake, url, 1)
        fetched = Counter(standin.counters.movie_requests) - before
        files = await lake_files(s3_lake, Kind.MOVIES, "catalogue", date_of(1))
        plan = await load_plan(s3_lake, date_of(1), Kind.MOVIES)
        assert plan is not None
        removed = await removed_ids(s3_lake, plan)
    assert done
    day0, day1 = alive(u, 0), alive(u, 1)
    changed = {i for i in u.changed(1) if i in day0 and i in day1}
    new = day1 - day0
    assert new and changed and day0 - day1
    assert set(fetched) == changed | new
    assert set(fetched.values()) == {1}
    assert sorted(r["id"] for r in records(files)) == sorted(changed | new)
    assert plan.refresh == "incremental"
    assert sorted(removed) == sorted(day0 - day1)
    assert standin.counters.requests["discover"] == 0
    # Day three diffs against day two's snapshot, kept by the incremental plan.
    async with standin.serve() as url:
        before = Counter(standin.counters.movie_requests)
        standin.day = 2
        assert (await run(s3_lake, url, 2))[0]
        fetched = Counter(standin.counters.movie_requests) - before
    day2 = alive(u, 2)
    # The window starts on the snapshot's own day (a change that day after its fetch is not
    # missed), so day two's changes are fetched again.
    listed = set(u.changed(1)) | set(u.changed(2))
    assert set(fetched) == {i for i in listed if i in day1 and i in day2} | (day2 - day1)


async def test_today_missing_falls_back_to_yesterday_with_a_warning(s3_lake: Lake) -> None:
    u = universe(120)
    async with fake(u, day=0).serve() as url:
        with capture_logs() as logs:
            done, _ = await run(s3_lake, url, 1)
        plan = await load_plan(s3_lake, date_of(1), Kind.MOVIES)
        ids = [r["id"] for r in records(await lake_files(s3_lake, Kind.MOVIES, "catalogue", date_of(1)))]
    assert done and plan is not None
    warnings = [e for e in logs if e["event"] == "export_fallback"]
    assert warnings and warnings[0]["log_level"] == "warning"
    assert plan.export == {"name": "movie_ids_11_01_2026.json.gz", "date": "2026-11-01", "fallback": True}
    assert set(ids) == alive(u, 0)


async def test_both_exports_missing_is_a_usage_error_naming_the_url(s3_lake: Lake) -> None:
    async with fake(universe(50), day=0).serve() as url:
        with pytest.raises(ConfigError) as caught:
            await run(s3_lake, url, 2)
    message = str(caught.value)
    assert f"{url}/p/exports/movie_ids_11_03_2026.json.gz" in message
    assert "movie_ids_11_02_2026.json.gz" in message


async def test_status_reports_the_catalogue_from_listings(s3_lake: Lake) -> None:
    u = universe(250)
    async with fake(u).serve() as url:
        assert (await run(s3_lake, url, 0))[0]
    status = await survey(s3_lake, DAY0)
    (row,) = [t for t in status.tmdb if t.genre == "catalogue"]
    assert (row.kind, row.planned, row.written, row.batches) == (
        Kind.MOVIES,
        len(alive(u, 0)),
        len(alive(u, 0)),
        3,
    )
    assert row.complete and status.complete and row.cursor == DAY0.isoformat()
    delete_from_lake(s3_lake.url, f"{tmdb_prefix(Kind.MOVIES, DAY0)}catalogue-000003.json")
    status = await survey(s3_lake, DAY0)
    (row,) = [t for t in status.tmdb if t.genre == "catalogue"]
    assert row.missing_batches == (3,) and not status.complete


async def test_a_killed_run_resumed_lands_every_movie_exactly_once(
    tmp_path: Path, bucket: str, s3: Any
) -> None:
    u = Universe(600, seed=7)
    prefix = tmdb_prefix(Kind.MOVIES, DAY0) + "catalogue-"

    def landed() -> int:
        return int(s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0))

    with standin_process("--catalogue", "600", "--seed", "7") as standin:
        env = standin_env(standin.url, standin.token, TMDB_EXPORTS_URL=standin.url + "/p/exports")
        args = ("--catalogue", "--lake", f"s3://{bucket}", "--date", DAY0.isoformat())
        # Slow, so that the kill lands mid-run; the rerun at full speed.
        run = await start_cli(*args, "--rate", "60", cwd=tmp_path, env=env, stdout=DEVNULL, stderr=DEVNULL)
        await kill_once(run, landed, "a first batch")
        killed_with = landed()
        rerun = await run_cli(*args, "--rate", "1000", cwd=tmp_path, env=env)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    wanted = alive(u, 0)
    assert 0 < killed_with < -(-len(wanted) // 100)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    ids = [
        orjson.loads(line)["id"]
        for k in keys
        for line in s3.get_object(Bucket=bucket, Key=k)["Body"].read().splitlines()
    ]
    assert Counter(ids).most_common(1)[0][1] == 1
    assert set(ids) == wanted


def test_the_catalogue_settings_come_from_flags_env_file_and_event(tmp_path: Path) -> None:
    from ingest.run.lambda_event import plan_from_event
    from ingest.settings.config import load_settings
    from tests.helpers import flags

    config = tmp_path / "config.toml"
    config.write_text(
        '[job]\ncatalogue = true\ninclude_adult = true\n[tmdb]\nexports_url = "http://files.test/p"\n'
    )
    from_file = load_settings(flags(config=config), env={})
    assert (from_file.job.catalogue, from_file.job.include_adult) == (True, True)
    assert from_file.tmdb.exports_url == "http://files.test/p"
    assert load_settings(env={"TMDB_EXPORTS_URL": "http://e.test/x/"}).tmdb.exports_url == "http://e.test/x"
    assert load_settings(env={}).tmdb.exports_url == "http://files.tmdb.org/p/exports"
    # --catalogue is a selection: alone it fetches neither the configured genres nor the CSVs;
    # with --collections it takes the collection export's, not the genres' collections.
    flagged = load_settings(flags(catalogue=True, collections=True), env={})
    assert (
        flagged.job.catalogue and flagged.job.collections and not flagged.job.genres and not flagged.job.csv
    )
    assert not flagged.job.include_adult
    assert load_settings(flags(catalogue=True, include_adult=True), env={}).job.include_adult
    event = {"catalogue": True, "include_adult": True, "date": "2026-11-20"}
    settings, plan = plan_from_event(event, {"TMDB_READ_ACCESS_TOKEN": "t0ken"})
    assert settings.job.catalogue and settings.job.include_adult and not settings.job.genres
    assert plan.as_event()["catalogue"] is True
    with pytest.raises(ConfigError, match="TMDB_EXPORTS_URL must be an http"):
        load_settings(env={"TMDB_EXPORTS_URL": "ftp://x"})


def test_both_exports_missing_is_exit_2_with_one_line(tmp_path: Path, bucket: str) -> None:
    with standin_process("--catalogue", "50") as standin:
        env = standin_env(standin.url, standin.token, TMDB_EXPORTS_URL=standin.url + "/p/exports")
        args = ("--catalogue", "--lake", f"s3://{bucket}", "--date", "2026-11-05")
        proc = asyncio.run(run_cli(*args, cwd=tmp_path, env=env))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"{standin.url}/p/exports/movie_ids_11_05_2026.json.gz" in proc.stderr
    assert standin.token not in proc.stderr


def test_the_standins_changes_feed_agrees_with_its_exports_day_by_day() -> None:
    from ingest.standin.exports import movie_lines

    u = universe(300)
    for day in (1, 2, 3):
        before, after = alive(u, day - 1, adult=True), alive(u, day, adult=True)
        bumped = {i for i in before & after if u.revision(i, day) > u.revision(i, day - 1)}
        assert set(u.changed(day)) == (before ^ after) | bumped
        assert before - after and after - before and bumped
        exported = [orjson.loads(line)["id"] for line in movie_lines(u, day)]
        assert exported == sorted(after)


async def test_an_id_listed_twice_in_the_export_is_planned_once() -> None:
    from ingest.tmdb.catalogue_planner import _movie_keys

    class Listed:
        async def lines(self) -> Any:
            for line in (
                b'{"adult":false,"id":7,"popularity":1.5,"video":false}',
                b'{"adult":false,"id":9,"popularity":8.0,"video":false}',
                b'{"adult":true,"id":11,"popularity":99.0,"video":false}',
                b"not json",
                b'{"adult":false,"id":7,"popularity":3.5,"video":false}',
            ):
                yield line

    keys, adult, unreadable = await _movie_keys(Listed(), include_adult=False)  # type: ignore[arg-type]
    assert [k & 0xFFFFFFFF for k in keys] == [9, 7] and (adult, unreadable) == (1, 1)
    keys, _, _ = await _movie_keys(Listed(), include_adult=True)  # type: ignore[arg-type]
    assert [k & 0xFFFFFFFF for k in keys] == [11, 9, 7]


def test_the_catalogue_without_credentials_is_exit_2_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ingest.cli import main

    for name in ("TMDB_READ_ACCESS_TOKEN", "TMDB_API_KEY", "TMDB_TOKEN_PARAMETER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    # An exports URL nothing listens on: reaching it would be a different error.
    monkeypatch.setenv("TMDB_EXPORTS_URL", "http://127.0.0.1:9/p/exports")
    assert main(["--catalogue", "--lake", str(tmp_path / "lake")]) == 2
    err = capsys.readouterr().err
    assert "TMDB_READ_ACCESS_TOKEN" in err and err.count("\n") == 1
    assert not (tmp_path / "lake").exists()
