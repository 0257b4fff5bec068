"""Every command ``status`` prints to finish a date finishes it: computed from what is
missing, dataset by dataset, not from the date's latest run, and runnable as printed from
another directory through a shell, with a space in the lake's path and the CSV's.

Crime's run stopped (a CSV file and a batch lost), war's run stopped, crime rerun to
completion: the latest run is crime's, which has nothing left to do. Each printed command
is run through ``sh -c`` from elsewhere; ``status`` then exits 0."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson

from ingest.lake.keys import Kind, tmdb_key
from ingest.standin import Catalog, Standin, TvCatalog
from ingest.state import keys
from tests.helpers import ROOT, cli_env, delete_from_lake, run_cli, standin_env
from tests.tmdb_fixtures import DATE

WAR, CRIME, WAR_POLITICS = 10752, 80, 10768


async def _status(cwd: Path, lake: Path, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    done = await run_cli(
        "status", "--lake", str(lake), "--date", DATE.isoformat(), "--json", cwd=cwd, env=env
    )
    text = await run_cli("status", "--lake", str(lake), "--date", DATE.isoformat(), cwd=cwd, env=env)
    return done.returncode, orjson.loads(done.stdout), text.stdout.splitlines()[-1]


async def _sh(line: str, cwd: Path, env: dict[str, str]) -> int:
    import asyncio

    proc = await asyncio.create_subprocess_exec("sh", "-c", line, cwd=cwd, env=cli_env(env))
    return await proc.wait()


async def test_each_printed_command_finishes_what_is_missing_from_any_directory(tmp_path: Path) -> None:
    work = tmp_path / "where the runs ran"
    elsewhere = tmp_path / "some other dir"
    work.mkdir()
    elsewhere.mkdir()
    lake = tmp_path / "the lake"
    shutil.copy(ROOT / "data" / "movies.csv", work / "movies.csv")
    fake = Standin(Catalog.synthetic({WAR: 150, CRIME: 60}, seed=3))
    async with fake.serve() as url:
        env = standin_env(url, INGEST_LAKE=str(lake))

        async def run(*args: str) -> None:
            done = await run_cli(*args, "--date", DATE.isoformat(), cwd=work, env=env)
            assert done.returncode == 0, done.stderr[-2000:]

        # Crime with a CSV file (relative path), then stopped: its manifest and a batch gone.
        await run("--csv", "movies.csv", "--genre", "crime")
        delete_from_lake(str(lake), keys.csv_manifest(DATE, "movies.csv"))
        # War with its collections, stopped: a movie batch gone.
        await run("--genre", "war", "--collections")
        delete_from_lake(str(lake), tmdb_key(Kind.MOVIES, DATE, "war", 2))
        # Crime again, to completion.
        await run("--genre", "crime")

        rc, body, verdict = await _status(elsewhere, lake, env)
        assert rc == 1
        states = {f"{t['genre']} {t['kind']}": t["state"] for t in body["tmdb"]}
        assert states == {"crime movies": "ok", "war movies": "missing", "war collections": "ok"}
        commands = body["commands"]
        # One per run that still owes something, oldest first, each narrowed to what it owes.
        assert len(commands) == 2, commands
        assert "'" + str(work / "movies.csv") + "'" in commands[0] and "--genre" not in commands[0]
        assert "--genre war --media movies --collections" in commands[1] and "crime" not in commands[1]
        assert f"--lake '{lake}'" in commands[1]
        for line in commands:
            assert line in verdict and line in body["hint"]

        for line in commands:
            assert await _sh(line, elsewhere, env) == 0, line
        rc, body, verdict = await _status(elsewhere, lake, env)
        assert rc == 0 and body["complete"] and body["commands"] == [], body


async def test_a_series_day_killed_halfway_is_finished_by_its_printed_command(tmp_path: Path) -> None:
    # Movies and series of War asked at once; a series batch of War & Politics lost (as a
    # kill before its marker leaves it).
    work, lake = tmp_path / "work", tmp_path / "a lake"
    work.mkdir()
    films = Catalog.synthetic({WAR: 60}, seed=4)
    tv = TvCatalog.synthetic({WAR_POLITICS: 150}, seed=4, movie_ids=films.movies)
    fake = Standin(films, tv=tv)
    async with fake.serve() as url:
        env = standin_env(url, INGEST_LAKE=str(lake), TMDB_EXPORTS_URL=url + "/p/exports")
        done = await run_cli(
            "--genre", "war", "--media", "movies,series", "--date", DATE.isoformat(), cwd=work, env=env
        )
        assert done.returncode == 0, done.stderr[-2000:]
        delete_from_lake(str(lake), tmdb_key(Kind.SERIES, DATE, "war-politics", 2))
        rc, body, verdict = await _status(tmp_path, lake, env)
        assert rc == 1
        states = {f"{t['genre']} {t['kind']}": t["state"] for t in body["tmdb"]}
        assert states == {"war movies": "ok", "war-politics series": "missing"}
        (line,) = body["commands"]
        assert "--genre war-politics --media series" in line and line in verdict
        assert await _sh(line, tmp_path, env) == 0, line
        rc, body, _ = await _status(tmp_path, lake, env)
    assert rc == 0, body["hint"]
