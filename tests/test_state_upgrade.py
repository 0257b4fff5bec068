"""A lake written by an older release reads under today's code with nothing lost.

``tests/fixtures/lake-1ad0036`` was made by commit 1ad0036 through its CLI
(``tests/fixtures/make_old_lake.py``): a CSV day, War's movies and collections (full, then
incremental the next day), Crime's 100 most popular, the whole catalogue (full, then
incremental), with what that release's ``status --json`` said of each date. Today's
``status`` must give every dataset the same verdict, the next incremental day must go on
from the old cursors (no fall-back to a full run, no refetch of what is in the lake), and
a state file of a newer format is refused in one line (exit 2), never guessed at.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.lake.keys import Kind
from ingest.reports.counts import TmdbStats
from ingest.standin import DAY0, Catalog, DailyChange, Standin
from ingest.state import open_lake
from ingest.state.cursor import read_cursor
from ingest.state.plan import load_plan
from ingest.stop import Stop
from ingest.tmdb.stage import run_tmdb
from tests.helpers import cli_command, cli_env
from tests.tmdb_fixtures import FAST, settings_for

FIXTURE = Path(__file__).parent / "fixtures" / "lake-1ad0036"
WAR = 10752
# What tests/fixtures/make_old_lake.py served: the same catalogue, a day later.
GENRES = {80: 300, WAR: 250}
SEED = 7


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


@pytest.fixture
def old_lake(tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    shutil.copytree(FIXTURE / "lake", lake)
    return lake


def status(lake: Path, date: dt.date) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        cli_command("status", "--lake", str(lake), "--date", date.isoformat(), "--json"),
        capture_output=True,
        env=cli_env(),
        check=False,
    )
    body = orjson.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, body, done.stderr.decode()


def verdicts(body: dict[str, Any]) -> dict[str, Any]:
    """What a status says of each dataset and file (not its hint, which names the lake)."""
    rows = {
        f"{t['genre']} {t['kind']}": {
            k: t[k]
            for k in ("state", "refresh", "planned", "written", "not_found", "removed", "cursor", "plan_id")
        }
        for t in body["tmdb"]
    }
    rows |= {c["file"]: {k: c[k] for k in ("state", "bytes", "rows", "malformed_rows")} for c in body["csv"]}
    return {"complete": body["complete"], "rows": rows}


@pytest.mark.parametrize("name, date", [("day0", day(0)), ("day1", day(1)), ("day0-holed", day(0))])
def test_status_gives_the_old_release_s_verdicts(old_lake: Path, name: str, date: dt.date) -> None:
    recorded = orjson.loads((FIXTURE / f"status-{name}.json").read_bytes())
    if name.endswith("holed"):
        (old_lake / "Raw/TMDB/JSON/Movies/2026/11/01/war-00002.json").unlink()
    code, body, _ = status(old_lake, date)
    assert code == recorded["exit"]
    assert verdicts(body) == verdicts(recorded["status"])
    # The fixture is not trivially whole: the holed day says War's movies are missing.
    assert name != "day0-holed" or body["tmdb"][2]["state"] == "missing"


async def test_the_next_incremental_day_goes_on_from_the_old_cursors(old_lake: Path) -> None:
    before = Catalog.synthetic(GENRES, seed=SEED, daily=DailyChange()).at_day(1)
    after = before.at_day(2)
    # The window starts on the cursor's date (day 1), whose changes may postdate its run.
    changed = set(after.changed_between(1, 2))
    was = before.genre_ids(WAR)
    expected = {i for i in after.genre_ids(WAR) if i not in was or i in changed}
    assert expected, "the stand-in's day 2 changes nothing in War: the test would prove nothing"
    standin = Standin(after)
    async with standin.serve(), open_lake(str(old_lake)) as lake:
        old = await read_cursor(lake, Kind.MOVIES, "war")
        assert old is not None and old.date == day(1)
        settings = settings_for(standin.url, lake.url, date=day(2), collections=True)
        settings = replace(settings, job=replace(settings.job, refresh="incremental"))
        stats = TmdbStats()
        assert await run_tmdb(lake, settings, stats, stop=Stop(), progress=False, tuning=FAST)
        plan = await load_plan(lake, day(2), Kind.MOVIES, "war")
        cursor = await read_cursor(lake, Kind.MOVIES, "war")
    assert stats.refresh == {"war": "incremental"}
    assert plan is not None and plan.refresh == "incremental" and set(plan.ids) == expected
    # Only the changed and new members were fetched: nothing the lake held was fetched again.
    assert set(standin.counters.movie_requests) == expected
    assert cursor is not None and cursor.date == day(2) and cursor.plan_id == plan.plan_id


@pytest.mark.parametrize(
    "key",
    [
        "_ingest/2026/11/01/tmdb/movies-war/plan.json",
        "_ingest/tmdb/cursors/movies-war.json",
        "_ingest/2026/11/01/tmdb/movies-catalogue/catalogue.json",
    ],
)
def test_a_state_file_of_a_newer_format_is_refused_in_one_line(old_lake: Path, key: str) -> None:
    path = old_lake / key
    body = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({**body, "version": 99}))
    code, _, stderr = status(old_lake, day(0))
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    # One line says which file and which version (the log's lines before it are JSON events).
    said = [line for line in lines if not line.startswith("{")]
    assert len(said) == 1 and key in said[0] and "version 99" in said[0], stderr
    assert "Traceback" not in stderr
