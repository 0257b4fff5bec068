"""The queue's settings through the one settings table: where they come from, what they
do to the TMDB budget, and the exit-2 lines of a queue mode without a queue."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ingest.errors import ConfigError
from ingest.queue.messages import BatchMessage
from ingest.settings.config import load_settings
from ingest.tmdb.rate import SlidingWindow
from tests.helpers import flags, run_cli


def test_the_queue_url_comes_from_the_environment_over_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[queue]\nurl = "http://file/1/q"\nbatches_in_flight = 2\n[service]\nqueue = true\n')
    from_file = load_settings(flags(config=cfg), env={})
    assert from_file.queue.url == "http://file/1/q" and from_file.queue.batches_in_flight == 2
    assert from_file.service.queue
    assert load_settings(flags(config=cfg), env={"INGEST_QUEUE_URL": "http://env/1/q"}).queue.url == (
        "http://env/1/q"
    )
    assert load_settings(flags(enqueue=True), env={}).job.enqueue


def test_egress_workers_split_the_per_ip_budget(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[tmdb]\nrate_per_s = 40\nconcurrency = 20\negress_workers = 4\n")
    tmdb = load_settings(flags(config=cfg), env={}).tmdb
    # 40 / 4, less 1.1 requests of room: each limiter lets at most ceil(8.9) = 9 go in any
    # sliding second, so four lined up can never pass 40 in a second.
    assert (round(tmdb.rate_per_s, 6), tmdb.concurrency) == (8.9, 5)
    assert 4 * SlidingWindow(tmdb.rate_per_s).count <= 40
    alone = load_settings(flags(config=cfg), env={"TMDB_EGRESS_WORKERS": "1"}).tmdb
    assert (alone.rate_per_s, alone.concurrency) == (40.0, 20)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[tmdb]\negress_workers = 0\n", "[tmdb] egress_workers in"),
        ("[queue]\nbatches_in_flight = 11\n", "[queue] batches_in_flight in"),
        ("[queue]\nwait_s = 21\n", "[queue] wait_s in"),
    ],
)
def test_bad_queue_values_say_which_and_how(tmp_path: Path, raw: str, message: str) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(raw)
    with pytest.raises(ConfigError, match="must be a whole number") as caught:
        load_settings(flags(config=cfg), env={})
    assert message in str(caught.value)


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMDB_", "INGEST_", "AWS_"))}
    return env | {"TMDB_READ_ACCESS_TOKEN": "x" * 20, "INGEST_LAKE": str(tmp_path / "lake")}


@pytest.mark.parametrize(
    "command",
    [["ingest", "--genre", "war", "--enqueue"], ["workers", "--queue"]],
)
def test_a_queue_mode_without_a_queue_is_one_exit_2_line(tmp_path: Path, command: list[str]) -> None:
    done = asyncio.run(run_cli(*command[1:], module=command[0], cwd=tmp_path, env=_clean_env(tmp_path)))
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.count("\n") == 1 and "INGEST_QUEUE_URL" in done.stderr and "Traceback" not in done.stderr
    )
    # Nothing was planned: a usage error costs nothing.
    assert not (tmp_path / "lake").exists()


@pytest.mark.parametrize(
    "body",
    ['{"v": 2}', "not json", '{"v": 1, "kind": "movies"}', "[]"],
)
def test_a_body_that_is_not_a_batch_message_is_an_input_error(body: str) -> None:
    from ingest.errors import InputError

    with pytest.raises(InputError, match="not a batch message"):
        BatchMessage.parse(body)
