"""``python -m ingest --genre ...`` as a real process against the fake TMDB: exit codes,
what reaches the terminal, and a run killed with SIGKILL that the rerun completes."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from ingest.lake.keys import Kind
from ingest.standin import STANDIN_API_KEY, STANDIN_TOKEN, Catalog, Standin
from tests.helpers import clean_env, kill_once_written, run_cli, start_cli
from tests.tmdb_fixtures import DATE, dir_records

WAR = 10752


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({WAR: 800, 80: 100}, seed=21)


def _env(url: str, *, token: str | None = None, api_key: str | None = None) -> dict[str, str]:
    """The kit's environment for TMDB at ``url``, with the secrets given (none, or either)."""
    secrets = {"TMDB_READ_ACCESS_TOKEN": token, "TMDB_API_KEY": api_key}
    return clean_env(TMDB_BASE_URL=url, **{k: v for k, v in secrets.items() if v})


def _args(tmp_path: Path, *args: str) -> tuple[str, ...]:
    return ("--lake", str(tmp_path / "lake"), "--date", DATE.isoformat(), *args)


async def _start(tmp_path: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await start_cli(*_args(tmp_path, *args), cwd=tmp_path, env=env)


async def _cli(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = await run_cli(*_args(tmp_path, *args), cwd=tmp_path, env=env)
    return done.returncode, done.stdout, done.stderr


async def test_an_unknown_genre_is_exit_2_before_any_request(tmp_path: Path, catalog: Catalog) -> None:
    fake = Standin(catalog)
    async with fake.serve() as url:
        rc, _, err = await _cli(tmp_path, _env(url, token=STANDIN_TOKEN), "--genre", "musicals")
    assert rc == 2
    assert err.strip().count("\n") == 0 and "unknown genre" in err and "Traceback" not in err
    assert fake.counters.total == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--genre", "war", "--limit", "100000000000000000000000"), "--limit must be a whole number between 1 and 1,000,000"),
        (("--genre", "²"), "--genre names an unknown genre '²'"),
        (("--genre", "x" * 100_000), "(100,000 characters)"),
    ],
)  # fmt: skip
async def test_bad_selections_are_exit_2_before_any_request(
    tmp_path: Path, catalog: Catalog, args: tuple[str, ...], message: str
) -> None:
    fake = Standin(catalog)
    async with fake.serve() as url:
        rc, _, err = await _cli(tmp_path, _env(url, token=STANDIN_TOKEN), *args)
    assert rc == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("ingest: ") and message in err
    # A long argument is cut in the message, not echoed whole.
    assert len(err) < 1000
    assert fake.counters.total == 0


@pytest.mark.parametrize("kind", ["token", "api_key"])
async def test_a_bad_credential_is_exit_2_with_one_line_and_no_secret(
    tmp_path: Path, catalog: Catalog, kind: str
) -> None:
    fake = Standin(catalog)
    secret = "wrong-secret-0123456789abcdef"
    env = _env("", token=secret) if kind == "token" else _env("", api_key=secret)
    async with fake.serve() as url:
        env["TMDB_BASE_URL"] = url
        rc, out, err = await _cli(tmp_path, env, "--genre", "war")
    assert rc == 2
    last = err.strip().splitlines()[-1]
    # The variable the refused credential came from.
    named = "TMDB_READ_ACCESS_TOKEN" if kind == "token" else "TMDB_API_KEY"
    assert last.startswith("ingest: ") and f"check {named} " in last
    assert "Traceback" not in err
    assert secret not in out + err
    assert fake.counters.unauthorized == 1


async def test_the_api_key_appears_nowhere_even_in_debug_logs(tmp_path: Path, catalog: Catalog) -> None:
    gone = {min(catalog.genre_ids(80))}
    fake = Standin(catalog, failure_rate=0.1, gone_ids=gone, seed=8)
    async with fake.serve() as url:
        env = _env(url, api_key=STANDIN_API_KEY)
        env["INGEST_LOG_LEVEL"] = "DEBUG"
        rc, out, err = await _cli(tmp_path, env, "--genre", "crime", "--collections", "--rate", "500")
    assert rc == 0, err[-2000:]
    assert "request_retried" in err and "records_skipped" in err
    assert STANDIN_API_KEY not in out + err
    ids = [r["id"] for r in dir_records(tmp_path / "lake", Kind.MOVIES, "crime")]
    assert sorted(ids) == sorted(catalog.genre_ids(80) - gone)


async def test_a_killed_run_resumes_with_every_movie_exactly_once(tmp_path: Path, catalog: Catalog) -> None:
    fake = Standin(catalog, latency_s=0.02)
    folder = tmp_path / "lake" / f"Raw/TMDB/JSON/Movies/{DATE:%Y/%m/%d}"
    args = ("--genre", "war", "--concurrency", "4", "--rate", "300")
    async with fake.serve() as url:
        env = _env(url, token=STANDIN_TOKEN)
        proc = await _start(tmp_path, env, *args)
        left_behind = await kill_once_written(proc, folder, "war-*.json", 2)
        assert 2 <= left_behind < 8
        first_run = Counter(fake.counters.movie_requests)
        fake.counters.movie_requests.clear()
        discover = fake.counters.requests["discover"]
        rc, _, err = await _cli(tmp_path, env, *args, "--rate", "1000")  # the rerun at full speed
    assert rc == 0, err[-2000:]
    ids = [r["id"] for r in dir_records(tmp_path / "lake", Kind.MOVIES, "war")]
    assert len(ids) == len(set(ids)) == 800 and set(ids) == catalog.genre_ids(WAR)
    # The plan was reused (no discover) and only missing batches were fetched again:
    # at most the one whose file landed just before its marker was cut off.
    assert fake.counters.requests["discover"] == discover
    refetched = sum(fake.counters.movie_requests.values())
    assert refetched <= 800 - 100 * (left_behind - 1)
    assert sum(first_run.values()) + refetched <= 800 + 2 * 100 + 4
