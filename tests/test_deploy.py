"""Run here what the deployment artifacts run, with no Docker engine, against moto's S3
(standing in for LocalStack) and the TMDB stand-in:

1. ``deploy/localstack/init-s3.sh`` (LocalStack's ready hook), twice: it creates the bucket
   the compose services use, and is idempotent. It calls ``aws``; the test puts a minimal
   one of its own on PATH (awscli pins a botocore that aiobotocore refuses, so it is not in
   the project's virtualenv) and checks which calls the script made. Likewise
   ``init-sqs.sh``: the batch queue and its dead-letter queue (RedrivePolicy), idempotent.
2. The compose ``ingest`` service: its command and environment, in a directory laid out like
   the image's /app (config.toml, the ./data volume), with only AWS_ENDPOINT_URL pointed at
   moto. The lake must then hold the CSV files and TMDB's movies.
3. The Dockerfile's CMD with the compose ``worker`` environment: /healthz answers the
   Dockerfile's own HEALTHCHECK command, a run is counted on /metrics, SIGTERM exits 0.
4. template.yaml's state machine, interpreted state by state (the subset of the States
   Language it uses), its Task calling ``ingest.aws_lambda.handler`` under a short clock,
   from the daily schedule's input: it loops through "partial" answers and ends in its
   Succeed state with every movie written once per genre.

Also that the artifacts agree: the bucket the init script creates is the one INGEST_LAKE
names; the port the image exposes is the one the service listens on, the healthcheck probes
and compose publishes (a range, for a scaled worker fleet); the workers consume the queue
the init script creates. The linters are ``scripts/check_deploy.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
import yaml

import ingest.aws_lambda
from ingest.standin import StandinProcess, free_port, standin_process
from scripts.check_deploy import load_template, state_machine
from tests.helpers import LambdaContext, eventually

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"crime": 60, "war": 40}

# A minimal `aws` for the init scripts' calls, on boto3: `aws --endpoint-url URL s3api OP
# --bucket B`, and `aws --endpoint-url URL sqs OP --queue-name N | --queue-url U
# [--attributes JSON] [--attribute-names A] [--query PATH --output text]`. Each call is
# appended to $AWS_SHIM_LOG.
AWS_SHIM = """#!{python}
import json, os, sys
import boto3, botocore.exceptions
args = sys.argv[1:]
def opt(name):
    return args[args.index(name) + 1] if name in args else None
endpoint = opt("--endpoint-url")
service = "s3api" if "s3api" in args else "sqs"
op = opt(service)
client = boto3.client("s3" if service == "s3api" else "sqs", endpoint_url=endpoint)
with open(os.environ["AWS_SHIM_LOG"], "a") as log:
    log.write(f"{{op}} {{opt('--bucket') or opt('--queue-name') or opt('--queue-url')}}\\n")
try:
    if service == "s3api":
        answer = getattr(client, op.replace("-", "_"))(Bucket=opt("--bucket"))
    elif op == "create-queue":
        answer = client.create_queue(QueueName=opt("--queue-name"), Attributes=json.loads(opt("--attributes") or "{{}}"))
    elif op == "get-queue-attributes":
        answer = client.get_queue_attributes(QueueUrl=opt("--queue-url"), AttributeNames=[opt("--attribute-names")])
    else:
        sys.exit(f"aws shim: sqs {{op}} is not implemented")
except botocore.exceptions.ClientError as exc:
    sys.exit(f"aws: {{exc}}")
if opt("--query"):
    for part in opt("--query").split("."):
        answer = answer[part]
    print(answer)
"""


def _dockerfile() -> tuple[list[str], list[str], int]:
    """The image's CMD, its HEALTHCHECK command and the port it exposes."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    cmd = json.loads(re.findall(r"^CMD (\[.*\])\s*$", text, re.MULTILINE)[-1])
    health = json.loads(re.findall(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.MULTILINE)[-1])
    port = int(re.findall(r"^EXPOSE (\d+)", text, re.MULTILINE)[-1])
    return cmd, health, port


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return services


def _env(service: str) -> dict[str, str]:
    """A service's environment as compose gives it: ``${NAME:-default}`` from this shell."""

    def interpolate(m: re.Match[str]) -> str:
        return os.environ.get(m.group(1)) or m.group(2)

    env = _services()[service]["environment"].items()
    return {k: re.sub(r"\$\{(\w+):-([^}]*)\}", interpolate, str(v)) for k, v in env}


def _local(cmd: list[str]) -> list[str]:
    """A container command, run here: `python` is this interpreter."""
    return [sys.executable if cmd[0] == "python" else cmd[0], *cmd[1:]]


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinProcess]:
    with standin_process("--crime", str(SIZES["crime"]), "--war", str(SIZES["war"])) as running:
        yield running


@pytest.fixture
def base_env() -> dict[str, str]:
    """A process environment with none of the caller's AWS, TMDB or INGEST settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TMDB_", "INGEST_"))}
    return env | {"PYTHONPATH": str(ROOT), "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture
def tmdb_env(standin: StandinProcess) -> dict[str, str]:
    return {"TMDB_BASE_URL": standin.url, "TMDB_READ_ACCESS_TOKEN": standin.token}


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """The image's /app: config.toml (COPY) and the CSV volume (./data:/app/data)."""
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy2(ROOT / "config.toml", app / "config.toml")
    shutil.copytree(ROOT / "data", app / "data")
    return app


def _keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_the_artifacts_agree_on_bucket_and_port() -> None:
    _, health, exposed = _dockerfile()
    services = _services()
    bucket = services["localstack"]["environment"]["INGEST_BUCKET"]
    assert _env("ingest")["INGEST_LAKE"] == _env("worker")["INGEST_LAKE"] == f"s3://{bucket}"
    # Long form (Compose v2: {"target": 8080, ...}) or short ("127.0.0.1:8080:8080/tcp").
    published = {
        str(p["target"]) if isinstance(p, dict) else str(p).split("/")[0].rsplit(":", 1)[-1]
        for p in services["worker"]["ports"]
    }
    # No fixed host port: `--scale worker=4` gives each replica a free one (a host range
    # such as 8080-8089:8080 works with Docker only; podman refuses it).
    assert all(str(p).split(":")[-2] == "" for p in services["worker"]["ports"] if not isinstance(p, dict))
    assert str(exposed) in published and f"get('INGEST_PORT', '{exposed}')" in health[-1]
    # The workers consume the queue the init script creates, under the name compose gives it.
    assert services["worker"]["command"][-1] == "--queue"
    queue = services["localstack"]["environment"]["INGEST_QUEUE"]
    assert _env("worker")["INGEST_QUEUE_URL"].endswith(f"/{queue}")
    assert "sqs" in services["localstack"]["environment"]["SERVICES"].split(",")
    hooks = [v.split(":")[0] for v in services["localstack"]["volumes"]]
    assert "./deploy/localstack/init-sqs.sh" in hooks and "./deploy/localstack/init-s3.sh" in hooks
    config_port = re.search(r"^port = (\d+)", (ROOT / "config.toml").read_text(), re.MULTILINE)
    assert config_port and int(config_port.group(1)) == exposed


def _run_hook_twice(
    script: str, names: dict[str, str], base_env: dict[str, str], tmp_path: Path
) -> tuple[list[subprocess.CompletedProcess[str]], Path]:
    """Run a LocalStack ready hook twice, as LocalStack would, with the test's ``aws`` on
    PATH (it records each call in the returned log); both runs must succeed."""
    shim_dir, log = tmp_path / "bin", tmp_path / "aws-calls.log"
    shim_dir.mkdir()
    (shim_dir / "aws").write_text(AWS_SHIM.format(python=sys.executable))
    (shim_dir / "aws").chmod(0o755)
    env = base_env | {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    env |= {"PATH": f"{shim_dir}:/usr/bin:/bin", "AWS_SHIM_LOG": str(log), **names}
    outs = [
        subprocess.run(
            ["bash", str(ROOT / "deploy/localstack" / script)], env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert [o.returncode for o in outs] == [0, 0], [o.stderr for o in outs]
    return outs, log


def test_the_init_script_creates_the_bucket_once(
    base_env: dict[str, str], aws_env: str, s3: Any, tmp_path: Path
) -> None:
    bucket = f"init-{tmp_path.name[-20:].lower().replace('_', '-')}"
    outs, log = _run_hook_twice("init-s3.sh", {"INGEST_BUCKET": bucket}, base_env, tmp_path)
    assert log.read_text().split("\n")[:-1] == [
        f"head-bucket {bucket}",
        f"create-bucket {bucket}",
        f"head-bucket {bucket}",
    ]
    assert "created" in outs[0].stdout and "already exists" in outs[1].stdout
    s3.head_bucket(Bucket=bucket)


def test_the_init_script_creates_the_queues_once(
    base_env: dict[str, str], aws_env: str, tmp_path: Path
) -> None:
    queue = f"batches-{tmp_path.name[-12:].lower().replace('_', '-')}"
    outs, log = _run_hook_twice("init-sqs.sh", {"INGEST_QUEUE": queue}, base_env, tmp_path)
    assert all(f"queue {queue} ready" in o.stdout for o in outs)
    sqs = boto3.client("sqs", endpoint_url=aws_env)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    dead = sqs.get_queue_url(QueueName=f"{queue}-dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.loads(attrs["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == dead_arn and int(policy["maxReceiveCount"]) == 5
    assert attrs["VisibilityTimeout"] == "120"
    assert log.read_text().count("create-queue") == 4


def test_the_compose_one_shot_service_fills_the_lake(
    base_env: dict[str, str],
    tmdb_env: dict[str, str],
    aws_env: str,
    s3: Any,
    new_bucket: Callable[..., str],
    app_dir: Path,
) -> None:
    bucket = _env("ingest")["INGEST_LAKE"].removeprefix("s3://")
    new_bucket(bucket, create=bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]})
    env = base_env | _env("ingest") | tmdb_env | {"AWS_ENDPOINT_URL": aws_env}
    command = [*_local(_services()["ingest"]["command"]), "--limit", "20"]
    done = subprocess.run(command, cwd=app_dir, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    keys = _keys(s3, bucket)
    for part in ("Raw/Local/CSV/Movies/", "Raw/Local/CSV/Series/", "Raw/TMDB/JSON/Movies/"):
        assert any(k.startswith(part) for k in keys), f"nothing under {part}"


def _poll(
    what: str, probe: Callable[[], bool], worker: subprocess.Popen[bytes], timeout_s: float = 120
) -> None:
    def alive_and_true() -> bool:
        assert worker.poll() is None, f"the worker exited {worker.returncode} before {what}"
        return probe()

    asyncio.run(eventually(alive_and_true, what, within_s=timeout_s, every_s=0.2))


def _metrics_count_a_run(url: str) -> bool:
    try:
        page = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return False
    return 'ingest_runs_total{outcome="succeeded"} 1' in page


def test_the_image_cmd_is_healthy_runs_and_stops_on_sigterm(
    base_env: dict[str, str], tmdb_env: dict[str, str], aws_env: str, bucket: str, app_dir: Path
) -> None:
    cmd, health, _ = _dockerfile()
    port = free_port()
    config = (app_dir / "config.toml").read_text()
    config = re.sub(r"^run_at_start = \w+", "run_at_start = true", config, flags=re.MULTILINE)
    # At the stand-in's pace, not TMDB's: the run is what is watched for, not its rate.
    config, paced = re.subn(r"^rate_per_s = \d+$", "rate_per_s = 1000", config, flags=re.MULTILINE)
    assert paced == 1
    (app_dir.parent / "service.toml").write_text(config)
    # The service on another port by INGEST_PORT: the HEALTHCHECK, run in the same
    # environment (as Docker runs it), probes that port.
    moved = {"INGEST_PORT": str(port)}
    env = base_env | _env("worker") | tmdb_env | moved
    env |= {"AWS_ENDPOINT_URL": aws_env, "INGEST_LAKE": f"s3://{bucket}"}
    env |= {"INGEST_CONFIG": str(app_dir.parent / "service.toml")}
    worker = subprocess.Popen(_local(cmd), cwd=app_dir, env=env, stdout=subprocess.DEVNULL)
    try:
        _poll(
            "the HEALTHCHECK",
            lambda: subprocess.run(_local(health), env=base_env | moved).returncode == 0,
            worker,
        )
        _poll("a run on /metrics", lambda: _metrics_count_a_run(f"http://127.0.0.1:{port}/metrics"), worker)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=90) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def _path(value: Any, expr: str) -> Any:
    assert expr.startswith("$"), expr
    for part in filter(None, expr[1:].split(".")):
        value = value[part]
    return value


def _schedule_input() -> Any:
    template = load_template()
    props = state_machine(template)
    text, subs = props["Events"]["Daily"]["Properties"]["Input"]  # !Sub [text, {GenreList: !Join}]
    genres = template["Parameters"]["Genres"]["Default"].split(",")
    return json.loads(text.replace("${GenreList}", subs["GenreList"][0].join(genres)))


def _run_state_machine(task: Callable[[Any], Any]) -> tuple[str, list[Any]]:
    """Interpret the template's state machine from the schedule's input; the Task's
    ``lambda:invoke`` calls ``task``. Returns the end state and the Task's inputs."""
    definition = state_machine(load_template())["Definition"]
    state, data = definition["StartAt"], _schedule_input()
    payloads: list[Any] = []
    for _ in range(50):
        spec = definition["States"][state]
        data = _path(data, spec.get("InputPath", "$"))
        if spec["Type"] == "Succeed":
            return state, payloads
        if spec["Type"] == "Choice":
            rule = next((r for r in spec["Choices"] if _path(data, r["Variable"]) == r["StringEquals"]), None)
            state = spec["Default"] if rule is None else rule["Next"]
            continue
        if spec["Type"] == "Task":
            assert spec["Resource"] == "arn:aws:states:::lambda:invoke"
            assert spec["Parameters"]["Payload.$"] == "$"
            payloads.append(data)
            data = {"Payload": task(data), "StatusCode": 200}
        else:
            assert spec["Type"] == "Pass", f"the test does not know state type {spec['Type']}"
        data = _path(data, spec.get("OutputPath", "$"))
        state = spec["Next"]
    raise AssertionError("the state machine did not finish in 50 transitions")


def test_the_state_machine_loops_until_every_movie_is_written_once(
    tmdb_env: dict[str, str],
    s3_lake_url: str,
    s3: Any,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in (tmdb_env | {"INGEST_LAKE": s3_lake_url, "INGEST_LOG_LEVEL": "WARNING"}).items():
        monkeypatch.setenv(key, value)
    # A 5 s invocation stops starting batches with 2.5 s left: the plan needs several.
    monkeypatch.setenv("INGEST_LAMBDA_RESERVE_S", "2.5")
    monkeypatch.delenv("INGEST_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text("[tmdb]\nrate_per_s = 50\nconcurrency = 10\n")
    monkeypatch.chdir(tmp_path)

    end, payloads = _run_state_machine(lambda event: ingest.aws_lambda.handler(event, LambdaContext(5.0)))

    per_genre: dict[str, list[int]] = {}
    for key in _keys(s3, bucket, "Raw/TMDB/JSON/Movies/"):
        lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
        per_genre.setdefault(key.rsplit("/", 1)[1].split("-")[0], []).extend(
            orjson.loads(ln)["id"] for ln in lines
        )
    # More than one invocation: the loop through "partial" and "continue" was taken.
    assert end == "Done" and len(payloads) >= 2
    assert {g: (len(ids), len(set(ids))) for g, ids in per_genre.items()} == {
        g: (n, n) for g, n in SIZES.items()
    }
