"""``dev.py``: ``run`` starts the TMDB stand-in only for commands that reach TMDB; ``up``
serves the local world its exports name, and stops it all on SIGINT; ``--help``."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import boto3
import pytest

from tests.helpers import clean_env, run_cli
from tests.up_kit import UP_EXPORTS, dev_up_moto, up_env

ROOT = Path(__file__).resolve().parent.parent


def _dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        ([], True),
        (["--genre", "war"], True),
        (["--csv", "data/movies.csv", "--collections"], True),
        (["--csv", "data/movies.csv"], False),
        (["--help"], False),
        (["--genre", "war", "-h"], False),
        (["status", "--date", "2026-11-28"], False),
    ],
)
def test_run_starts_the_standin_only_for_tmdb(args: list[str], wanted: bool) -> None:
    assert _dev()._wants_tmdb(args) is wanted


def test_run_catalogue_without_a_token_reads_the_standins_own_export(tmp_path: Path) -> None:
    # The stand-in serves a small whole catalogue and its ID export up to today, and the run
    # is pointed at that export: not at TMDB's file host, which needs a network.
    lake = tmp_path / "lake"
    env = clean_env(DEV_PY_VENV=sys.prefix, TMDB_EXPORTS_URL="http://127.0.0.1:9/unreachable")
    cmd = [sys.executable, str(ROOT / "dev.py"), "run", "--catalogue", "--lake", str(lake), "--rate", "1000"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # The main job's media are movies and series: both whole catalogues.
    last = done.stderr.splitlines()[-1]
    assert "TMDB stand-in" in done.stderr and " movies + " in last and " series in " in last
    assert list((lake / "Raw" / "TMDB" / "JSON" / "Movies").rglob("catalogue-*.json"))


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_up_moto_serves_what_its_exports_name_and_stops_on_sigint(tmp_path: Path) -> None:
    with dev_up_moto() as up:
        exports = up.exports
        assert set(exports) == UP_EXPORTS
        # What a user does next: paste the exports, plan War's batches onto the queue.
        args = ("--genre", "war", "--limit", "40", "--enqueue")
        done = asyncio.run(run_cli(*args, cwd=tmp_path, env=up_env() | exports, timeout_s=300))
        assert done.returncode == 0, done.stderr
        session = boto3.session.Session(
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
            region_name=exports["AWS_DEFAULT_REGION"],
        )
        endpoint = exports["AWS_ENDPOINT_URL"]
        bucket = exports["INGEST_LAKE"].removeprefix("s3://")
        listed = session.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)
        assert any(o["Key"].startswith("_ingest/") for o in listed["Contents"]), listed
        sqs = session.client("sqs", endpoint_url=endpoint)
        attrs = sqs.get_queue_attributes(QueueUrl=exports["INGEST_QUEUE_URL"], AttributeNames=["All"])[
            "Attributes"
        ]
        assert int(attrs["ApproximateNumberOfMessages"]) == 1  # 40 movies: one batch
        assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(":movies-lake-batches-dead")
    assert up.proc.returncode == 0, up.err
    assert up.err.strip().splitlines()[-1] == "dev.py up: stopped"
    assert _refused(exports["AWS_ENDPOINT_URL"]) and _refused(exports["TMDB_BASE_URL"])


@pytest.mark.parametrize(
    ("argv", "code", "says"), [(["--help"], 0, "dev.py up"), (["upp"], 2, "did you mean 'up'?")]
)
def test_help_lists_the_commands_and_a_typo_gets_a_hint(argv: list[str], code: int, says: str) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "dev.py"), *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == code
    assert says in done.stdout + done.stderr
    if code == 0:
        assert all(f"python3 dev.py {c} " in done.stdout for c in _dev().COMMANDS)


@pytest.mark.parametrize("flag", ["--aws-port", "--tmdb-port"])
def test_up_on_a_busy_port_is_one_line_and_exit_2(flag: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = {"--aws-port": "0", "--tmdb-port": "0", flag: str(port)}
        done = subprocess.run(
            [sys.executable, str(ROOT / "dev.py"), "up", "--moto", *(x for kv in args.items() for x in kv)],
            env=up_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"dev.py up: port {port} is in use (another dev.py up?): stop that, or pass {flag} 0 for any free port"
    ]


def test_up_with_localstack_makes_the_same_bucket_and_queue() -> None:
    from scripts.localstack import installed

    if not installed():
        pytest.skip("LocalStack is not installed here (python3 dev.py test installs it)")
    with dev_up_moto(moto=False) as up:
        exports = up.exports
        session = boto3.session.Session(
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
            region_name=exports["AWS_DEFAULT_REGION"],
        )
        s3 = session.client("s3", endpoint_url=exports["AWS_ENDPOINT_URL"])
        s3.put_object(Bucket=exports["INGEST_LAKE"].removeprefix("s3://"), Key="probe", Body=b"x")
        sqs = session.client("sqs", endpoint_url=exports["AWS_ENDPOINT_URL"])
        attrs = sqs.get_queue_attributes(QueueUrl=exports["INGEST_QUEUE_URL"], AttributeNames=["All"])[
            "Attributes"
        ]
        assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] in (5, "5")
        assert attrs["VisibilityTimeout"] == "120"
    assert up.proc.returncode == 0, up.err
    assert _refused(exports["AWS_ENDPOINT_URL"]) and _refused(exports["TMDB_BASE_URL"])


def test_the_readme_shows_the_exports_up_prints() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"^export (\w+)=", readme, flags=re.MULTILINE))
    assert shown == UP_EXPORTS


def test_the_next_line_after_dev_py_run_runs_as_printed_outside_the_venv(tmp_path: Path) -> None:
    """``dev.py run``'s last line names the venv's interpreter (a shell without the venv
    has no ``python`` with the project's dependencies) and quotes the lake's path."""
    lake = tmp_path / "a lake"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # A shell whose PATH has no venv: what a user has after `dev.py run`.
    env = clean_env(DEV_PY_VENV=sys.prefix, PATH="/usr/bin:/bin", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, str(ROOT / "dev.py"), "run", "--csv", "data/movies.csv", "--lake", str(lake)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert "; next: " in last, last
    printed = last.split("; next: ", 1)[1]
    status = subprocess.run(["sh", "-c", printed], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert status.returncode == 0, (printed, status.stderr[-2000:])
    assert status.stdout.splitlines()[-1].startswith("complete: "), status.stdout
