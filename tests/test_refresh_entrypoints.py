"""The incremental refresh through its entry points, as real processes where it matters:
``python -m ingest`` killed with SIGKILL mid-run and run again, a chain of Lambda
invocations, and the service's scheduled run, each against the TMDB stand-in's clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog

from ingest.aws_lambda import handler
from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.reports.counts import TmdbStats
from ingest.standin import DAY0, STANDIN_TOKEN, Catalog, DailyChange, Standin, free_port, standin_process
from ingest.state import open_lake
from ingest.state.cursor import cursor_key
from ingest.stop import Stop
from ingest.tmdb.stage import run_tmdb
from tests.helpers import LambdaContext, eventually, kill_once_written, popen_cli, standin_env, start_cli
from tests.tmdb_fixtures import FAST, dir_records, settings_for

WAR = 10752
# A lot of churn, so that one day's changes span several batches.
CHURN = DailyChange(changed=0.25, added=0.05, removed=0.01)
CHURN_ARGS = ("--changed-per-day", "0.25", "--added-per-day", "0.05", "--removed-per-day", "0.01")


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def increment(before: Catalog, after: Catalog) -> set[int]:
    """War's members on ``after``'s day that are new to it or changed since ``before``."""
    was = before.genre_ids(WAR)
    changed = set(after.changed_between(before.day, after.day))
    return {i for i in after.genre_ids(WAR) if i not in was or i in changed}


async def full_run(lake: Lake, url: str, n: int, *, collections: bool = False) -> None:
    """Day ``n``'s first (so full) run, in this process: the starting point of each test."""
    settings = settings_for(url, lake.url, date=day(n), collections=collections, concurrency=16)
    assert await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)


def cursor_date(lake: Path, kind: Kind = Kind.MOVIES) -> str:
    return str(json.loads((lake / cursor_key(kind, "war")).read_bytes())["date"])


# SIGKILL mid-run ------------------------------------------------------------------------


async def _start(lake: Path, url: str, *args: str) -> asyncio.subprocess.Process:
    args = ("--lake", str(lake), "--date", day(1).isoformat(), "--genre", "war", *args)
    return await start_cli(*args, cwd=lake.parent, env=standin_env(url), stdout=asyncio.subprocess.DEVNULL)


async def test_a_killed_incremental_run_resumes_its_plan_and_only_then_moves_the_cursor(
    tmp_path: Path,
) -> None:
    day0 = Catalog.synthetic({WAR: 1_500}, seed=9, daily=CHURN)
    day1 = day0.at_day(1)
    lake_dir = tmp_path / "lake"
    folder = lake_dir / f"Raw/TMDB/JSON/Movies/{day(1):%Y/%m/%d}"
    fake = Standin(day0, latency_s=0.02)
    args = ("--concurrency", "4", "--rate", "300")
    async with fake.serve() as url:
        async with open_lake(str(lake_dir)) as lake:
            await full_run(lake, url, 0)
        fake.day = 1
        fake.counters = type(fake.counters)()
        proc = await _start(lake_dir, url, *args)
        left_behind = await kill_once_written(proc, folder, "war-*.json", 2)
        # Killed halfway: the cursor stays on day 0.
        assert cursor_date(lake_dir) == day(0).isoformat()
        planning = (fake.counters.requests["changes"], fake.counters.requests["discover"])
        first_run = sum(fake.counters.movie_requests.values())
        fake.counters.movie_requests.clear()
        rerun = await _start(lake_dir, url, *args)
        _, err = await asyncio.wait_for(rerun.communicate(), 120)
    assert rerun.returncode == 0, err.decode()[-2000:]
    wanted = increment(day0, day1)
    assert 2 <= left_behind < len(wanted) // 100 + 1
    ids = [r["id"] for r in dir_records(lake_dir, Kind.MOVIES, "war", day(1))]
    assert len(ids) == len(set(ids)) and set(ids) == wanted
    # The rerun reused the frozen plan: no changes or discover request of its own.
    assert (fake.counters.requests["changes"], fake.counters.requests["discover"]) == planning
    refetched = sum(fake.counters.movie_requests.values())
    assert set(fake.counters.movie_requests) <= wanted
    assert refetched <= len(wanted) - 100 * (left_behind - 1)
    assert first_run + refetched <= len(wanted) + 2 * 100 + 4
    assert cursor_date(lake_dir) == day(1).isoformat()
    # The rerun's summary: the frozen plan's mode, window and counts.
    summary = next(
        orjson.loads(line)
        for line in err.splitlines()
        if line.startswith(b"{") and b'"run_completed"' in line
    )
    assert summary["refresh"] == "incremental"
    assert summary["changes_window"] == {"war": f"{day(0)}..{day(1)}"}
    assert summary["ids_changed"] + summary["ids_new"] == summary["movies_planned"] == len(wanted)
    assert summary["ids_removed"] == len(day0.genre_ids(WAR) - day1.genre_ids(WAR))
    assert summary["full_run_requests"] > 1_500


# Lambda -----------------------------------------------------------------------------------


@pytest.fixture
def churning_standin() -> Iterator[Any]:
    with standin_process("--war", "600", "--seed", "4", "--latency-ms", "10", *CHURN_ARGS) as standin:
        yield standin


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def _records(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    keys = [
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in p.get("Contents", ())
    ]
    return [
        orjson.loads(line)
        for k in sorted(keys)
        for line in s3.get_object(Bucket=bucket, Key=k)["Body"].read().splitlines()
    ]


def test_a_lambda_chain_runs_incremental_by_default_and_pins_it(
    churning_standin: Any,
    s3_lake_url: str,
    s3: Any,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "config.toml").write_text(
        '[job]\ngenres = ["war"]\ncollections = true\n[tmdb]\nrate_per_s = 40\nconcurrency = 10\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INGEST_LAKE", s3_lake_url)
    monkeypatch.setenv("TMDB_BASE_URL", churning_standin.url)
    monkeypatch.setenv("TMDB_READ_ACCESS_TOKEN", STANDIN_TOKEN)
    monkeypatch.setenv("INGEST_LAMBDA_RESERVE_S", "3")
    for name in ("INGEST_CONFIG", "TMDB_API_KEY", "TMDB_TOKEN_PARAMETER"):
        monkeypatch.delenv(name, raising=False)

    async def day0() -> None:
        async with open_lake(s3_lake_url) as lake:
            await full_run(lake, churning_standin.url, 0, collections=True)

    asyncio.run(day0())
    churning_standin.set_day(1)
    changes_before = churning_standin.stats()["requests"].get("changes", 0)
    event: dict[str, Any] = {"date": day(1).isoformat()}
    answers = []
    changes_after_first = None
    for _ in range(10):
        answer = handler(event, LambdaContext(6.0))
        answers.append(answer)
        if changes_after_first is None:
            changes_after_first = churning_standin.stats()["requests"].get("changes", 0)
        if answer["status"] == "done":
            break
        event = answer["continue"]
    assert answers[-1]["status"] == "done" and len(answers) >= 2
    assert all(a["continue"]["refresh"] == "incremental" for a in answers[:-1])
    assert all(a["summary"]["refresh_by_genre"] == {"war": "incremental"} for a in answers)
    # Only the first invocation read the changes feed: the others finished its plan.
    assert changes_after_first is not None and changes_after_first > changes_before
    assert churning_standin.stats()["requests"]["changes"] == changes_after_first
    catalog = Catalog.synthetic({WAR: 600}, seed=4, daily=CHURN)
    wanted = increment(catalog, catalog.at_day(1))
    ids = [m["id"] for m in _records(s3, bucket, f"Raw/TMDB/JSON/Movies/{day(1):%Y/%m/%d}/")]
    assert len(ids) == len(set(ids)) and set(ids) == wanted
    cursor = s3.get_object(Bucket=bucket, Key=cursor_key(Kind.COLLECTIONS, "war"))["Body"].read()
    assert orjson.loads(cursor)["date"] == day(1).isoformat()


# The service ------------------------------------------------------------------------------


def test_the_services_scheduled_run_is_incremental(tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    n = (today - DAY0).days
    if n < 1:
        pytest.skip("the stand-in's calendar starts after today")
    lake_dir = tmp_path / "lake"
    with standin_process("--war", "300", "--seed", "6", "--day", str(n - 1), *CHURN_ARGS) as standin:

        async def yesterday() -> None:
            async with open_lake(str(lake_dir)) as lake:
                await full_run(lake, standin.url, n - 1)

        asyncio.run(yesterday())
        standin.set_day(n)
        port = free_port()
        (tmp_path / "config.toml").write_text(
            '[job]\nlake = "lake"\ngenres = ["war"]\ncollections = false\n[tmdb]\nrate_per_s = 300\n'
            f'[service]\nhost = "127.0.0.1"\nport = {port}\nrun_at_start = true\n'
        )
        with (tmp_path / "service.log").open("wb") as log:
            env = standin_env(standin.url)
            proc = popen_cli(module="workers", cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                finished = _wait_for_event(tmp_path / "service.log", "run_finished")
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                    metrics = resp.read().decode()
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    assert finished["outcome"] == "succeeded" and finished["refresh"] == "incremental"
    assert cursor_date(lake_dir) == today.isoformat()
    assert 'ingest_refresh_genres_total{mode="incremental"} 1' in metrics
    window = f"{today - dt.timedelta(days=1)}..{today}"
    assert (
        f'ingest_refresh_info{{genre="war",media="movies",mode="incremental",window="{window}"}} 1' in metrics
    )


def _wait_for_event(log: Path, name: str, timeout_s: float = 60) -> dict[str, Any]:
    def event() -> dict[str, Any] | None:
        for line in log.read_bytes().splitlines():
            if line.startswith(b"{") and (found := orjson.loads(line)).get("event") == name:
                return dict(found)
        return None

    return asyncio.run(eventually(event, f"{name} in {log}", within_s=timeout_s, every_s=0.1))
