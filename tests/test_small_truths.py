"""The smaller untruths of issue 31, one each: what a command says about itself or about
what it did must be what it does. Real processes where the words come from a process."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

from structlog.testing import capture_logs

from ingest.standin import Catalog, Standin
from tests.helpers import clean_env, run_cli
from tests.queue_kit import Queues
from tests.test_readiness import _readyz_is, _settings, serving

ROOT = Path(__file__).resolve().parent.parent
WAR = 10752


async def test_a_rerun_that_skipped_its_csv_files_does_not_claim_them(tmp_path: Path) -> None:
    shutil.copy(ROOT / "data" / "movies.csv", tmp_path / "movies.csv")
    args = ("--csv", "movies.csv", "--lake", str(tmp_path / "lake"), "--date", "2026-11-28")
    first = await run_cli(*args, cwd=tmp_path, env=clean_env())
    assert first.returncode == 0, first.stderr
    assert "1 CSV file (" in first.stderr.splitlines()[-1]
    again = await run_cli(*args, cwd=tmp_path, env=clean_env())
    last = again.stderr.splitlines()[-1]
    assert again.returncode == 0 and "1 CSV file already in the lake (not sent again)" in last, last
    assert "KB" not in last and "rows" not in last


async def test_status_help_says_what_a_missing_bucket_exits_with(tmp_path: Path, aws_env: str) -> None:
    helped = await run_cli("status", "--help", cwd=tmp_path, env=clean_env())
    said = " ".join(helped.stdout.split())
    assert "2 bad usage, or a lake that cannot be used as given (a bucket that does not exist" in said
    missing = await run_cli("status", "--lake", "s3://no-such-bucket-here", cwd=tmp_path, env=clean_env())
    assert missing.returncode == 2 and "does not exist" in missing.stderr


async def test_a_mistyped_flag_gets_a_did_you_mean(tmp_path: Path) -> None:
    done = await run_cli("--genres", "war", cwd=tmp_path, env=clean_env())
    assert done.returncode == 2
    assert "unrecognized arguments: --genres war (did you mean --genre?)" in done.stderr


async def test_a_refused_api_key_names_the_variable_in_use(tmp_path: Path) -> None:
    fake = Standin(Catalog.synthetic({WAR: 5}, seed=1), api_key="the-right-key")
    async with fake.serve() as url:
        env = clean_env(TMDB_BASE_URL=url, TMDB_API_KEY="a-wrong-key")
        done = await run_cli("--genre", "war", "--lake", str(tmp_path / "lake"), cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "check TMDB_API_KEY" in done.stderr and "TMDB_READ_ACCESS_TOKEN" not in done.stderr
    assert "a-wrong-key" not in done.stderr


async def test_an_idle_queue_worker_stops_without_a_run_in_progress(
    tmp_path: Path, aws_env: str, new_queues: Callable[..., Queues]
) -> None:
    queues = new_queues(max_receives=2, visibility_s=30)
    async with Standin(Catalog.synthetic({WAR: 5}, seed=1)).serve() as url:
        settings = _settings(tmp_path, str(tmp_path / "lake"), url, queue_url=queues.url)
        with capture_logs() as logs:
            async with serving(settings) as get:
                await _readyz_is(get, 200)
                assert (await get("/healthz"))[1]["state"] == "idle"
            await asyncio.sleep(0)
    (stop,) = [e for e in logs if e["event"] == "shutdown_requested"]
    assert stop["run_in_progress"] is False


def test_the_standins_help_names_genre_ids_as_ids_not_counts() -> None:
    from ingest.standin.__main__ import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "movies in War (genre id 10752)" in text and "(10752)" not in text
    assert "series in War & Politics (TV genre id 10768)" in text
