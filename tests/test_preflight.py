"""Start-up mistakes are exit 2 with one line on stderr, naming what to fix, within seconds:
``python -m ingest``, ``python -m ingest status`` and ``python -m workers`` as real processes,
against moto's S3 and the TMDB stand-in over HTTP (``ingest.run.checks``, ``ingest.settings.lake_url``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.aws_lambda import handler
from ingest.errors import AuthError, ConfigError
from ingest.settings.invalid import Invalid
from ingest.settings.lake_url import bucket_error, check_lake_url
from ingest.standin import STANDIN_TOKEN, StandinProcess, free_port, standin_process
from tests.helpers import LambdaContext, run_cli, standin_env


def _refused(args: list[str], env: dict[str, str], cwd: Path, module: str = "ingest") -> str:
    """Run ``python -m module args``; assert exit 2 with one line on stderr; return it."""
    proc = asyncio.run(run_cli(*args, cwd=cwd, env=env, module=module))
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinProcess]:
    with standin_process("--seed", "1", "--war", "20") as proc:
        yield proc


@pytest.mark.parametrize(
    ("lake", "meant"),
    [
        ("s3:/movies-lake", "s3://movies-lake"),
        ("s3//movies-lake", "s3://movies-lake"),
        ("s3:movies-lake/raw", "s3://movies-lake/raw"),
        ("S3://movies-lake", "s3://movies-lake"),
        ("s3://Bad_Bucket!", "s3://bad-bucket"),
    ],
)
@pytest.mark.parametrize("command", ["ingest", "status", "workers"])
def test_a_misspelled_s3_lake_is_refused_with_what_it_meant(
    lake: str, meant: str, command: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    module, args, prog = {
        "ingest": ("ingest", ["--csv", "x.csv", "--lake", lake], "ingest: --lake"),
        "status": ("ingest", ["status", "--lake", lake], "ingest status: --lake"),
        # The service takes its lake from the environment (or config.toml).
        "workers": ("workers", ["--port", str(free_port())], "python -m workers: INGEST_LAKE"),
    }[command]
    env = subprocess_env | (
        {"INGEST_LAKE": lake, "TMDB_READ_ACCESS_TOKEN": STANDIN_TOKEN} if command == "workers" else {}
    )
    line = _refused(args, env, tmp_path, module)
    assert line.startswith(prog)
    assert line.endswith(f"did you mean {meant}?")
    # Nothing was written where the typo would have put it.
    assert list(tmp_path.iterdir()) == []


def test_lake_url_rules() -> None:
    assert check_lake_url("s3://movies-lake/raw/zone") == "s3://movies-lake/raw/zone"
    # A bare word or a relative path is a local directory.
    assert check_lake_url("movies-lake") == "movies-lake"
    assert check_lake_url("s3/lake") == "s3/lake"
    for bad in ("s3://", "s3://ab", "s3://a..b", "s3://192.168.1.1", "s3://-lake", "ftp://host/x"):
        with pytest.raises(Invalid):
            check_lake_url(bad)
    assert bucket_error("x" * 64) is not None and bucket_error("my.lake-01") is None


def test_a_new_local_lake_named_like_a_bucket_is_written_and_its_path_said(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    (tmp_path / "films.csv").write_text("id,title\n1,Ran\n")
    proc = asyncio.run(
        run_cli("--csv", "films.csv", "--lake", "movies-lake", cwd=tmp_path, env=subprocess_env)
    )
    assert proc.returncode == 0, proc.stderr
    opened = next(line for line in proc.stderr.splitlines() if '"lake_opened"' in line)
    assert f'"lake":"{tmp_path / "movies-lake"}"' in opened
    assert "for S3 write s3://movies-lake" in opened


_COMMANDS = {
    "ingest": ("ingest", ["--csv", "x.csv"]),
    "status": ("ingest", ["status"]),
    "workers": ("workers", ["--port"]),
}


def _aws_refused(command: str, endpoint: str, tmp_path: Path, env: dict[str, str]) -> str:
    (tmp_path / "x.csv").write_text("id,title\n1,Ran\n")
    env = env | {"AWS_ENDPOINT_URL": endpoint, "INGEST_LAKE": "s3://movies-lake"}
    module, args = _COMMANDS[command]
    if module == "workers":
        args = [*args, str(free_port())]
    return _refused(args, env | {"TMDB_READ_ACCESS_TOKEN": STANDIN_TOKEN}, tmp_path, module)


@pytest.mark.parametrize(
    ("endpoint", "said"),
    [
        ("127.0.0.1:5000", "AWS_ENDPOINT_URL must be an http:// or https:// URL"),
        ("http://127.0.0.1:99999", "AWS_ENDPOINT_URL must have a port between 1 and 65535"),
        ("ftp://127.0.0.1", "AWS_ENDPOINT_URL must be an http:// or https:// URL"),
    ],
)
@pytest.mark.parametrize("command", list(_COMMANDS))
def test_a_malformed_aws_endpoint_is_one_line_naming_it(
    endpoint: str, said: str, command: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    line = _aws_refused(command, endpoint, tmp_path, subprocess_env)
    assert said in line
    if "://" not in endpoint:
        assert line.endswith(f"did you mean http://{endpoint}?")


@pytest.mark.parametrize("command", ["ingest", "status"])
def test_an_aws_endpoint_that_does_not_answer_is_one_line_naming_it(
    command: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """(The service stays up for this one: its /readyz says why, test_readiness.)"""
    endpoint = f"http://127.0.0.1:{free_port()}"
    line = _aws_refused(command, endpoint, tmp_path, subprocess_env)
    assert f"cannot reach S3 at {endpoint}" in line and "AWS_ENDPOINT_URL" in line


@pytest.mark.parametrize("fault", ["unreachable", "wrong path", "port", "scheme", "token"])
def test_a_wrong_tmdb_endpoint_or_token_is_one_line_naming_it(
    fault: str, standin: StandinProcess, tmp_path: Path, aws_env: str
) -> None:
    base, token = {
        "unreachable": (f"http://127.0.0.1:{free_port()}", STANDIN_TOKEN),
        "wrong path": (f"{standin.url}/api", STANDIN_TOKEN),
        "port": ("http://127.0.0.1:99999", STANDIN_TOKEN),
        "scheme": (f"ftp://127.0.0.1:{free_port()}", STANDIN_TOKEN),
        "token": (standin.url, "not-the-token"),
    }[fault]
    env = standin_env(base, token)
    line = _refused(["--genre", "war", "--limit", "5", "--lake", str(tmp_path / "lake")], env, tmp_path)
    expected = {
        "unreachable": "cannot reach TMDB at",
        "wrong path": "has no /authentication (404): TMDB_BASE_URL",
        "port": "TMDB_BASE_URL must have a port between 1 and 65535",
        "scheme": "TMDB_BASE_URL must be an http:// or https:// URL",
        "token": "TMDB refused the credentials",
    }[fault]
    assert expected in line
    assert not (tmp_path / "lake" / "Raw").exists()


@pytest.mark.parametrize("fault", ["bucket", "token"])
def test_a_lambda_sqs_invocation_fails_whole_on_a_setting(
    fault: str,
    standin: StandinProcess,
    s3_lake_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every message comes back (none is counted a failure towards the dead-letter queue)
    when what is wrong is a setting that would fail each of them."""
    lake = f"{s3_lake_url}-missing" if fault == "bucket" else s3_lake_url
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INGEST_LAKE", lake)
    monkeypatch.setenv("TMDB_BASE_URL", standin.url)
    monkeypatch.setenv("TMDB_READ_ACCESS_TOKEN", "not-the-token" if fault == "token" else STANDIN_TOKEN)
    for name in ("INGEST_CONFIG", "INGEST_QUEUE_URL", "TMDB_API_KEY", "TMDB_TOKEN_PARAMETER"):
        monkeypatch.delenv(name, raising=False)
    event = {"Records": [{"eventSource": "aws:sqs", "messageId": "m-1", "body": "{}"}]}
    error = ConfigError if fault == "bucket" else AuthError
    with pytest.raises(error, match="does not exist" if fault == "bucket" else "refused the credentials"):
        handler(event, LambdaContext(60))


@pytest.mark.parametrize("fault", ["missing queue", "unreachable"])
def test_enqueue_to_a_queue_that_is_not_there_is_one_line_before_any_plan(
    fault: str, standin: StandinProcess, tmp_path: Path, aws_env: str
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}" if fault == "unreachable" else aws_env
    queue = f"{endpoint}/123456789012/no-such-queue"
    env = standin_env(standin.url, AWS_ENDPOINT_URL=endpoint, INGEST_QUEUE_URL=queue)
    lake = tmp_path / "lake"
    line = _refused(["--genre", "war", "--enqueue", "--lake", str(lake)], env, tmp_path)
    said = (
        "NonExistentQueue): create the queue or fix INGEST_QUEUE_URL"
        if fault == "missing queue"
        else "cannot reach SQS"
    )
    assert said in line
    # Refused before planning: no plan frozen for a queue nobody can read.
    assert not lake.exists() or not any(lake.rglob("plan.json"))
