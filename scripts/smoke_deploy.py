#!/usr/bin/env python3
"""Run here what the deployment artifacts run, with no Docker engine (scripts/check_deploy.sh).

Against a moto S3 server standing in for LocalStack and the fake TMDB standing in for TMDB:

1. ``deploy/localstack/init-s3.sh`` (LocalStack's ready hook), twice: it creates the bucket
   the compose services use, and is idempotent.
2. The compose ``ingest`` service: its command and environment, as ``docker-compose config``
   resolves them, in a directory laid out like the image's /app (config.toml, the ./data
   volume), with only AWS_ENDPOINT_URL pointed at moto. The lake must then hold the CSV
   files and TMDB's movies.
3. The Dockerfile's CMD with the compose ``worker`` environment: /healthz answers the
   Dockerfile's own HEALTHCHECK command, a run is counted on /metrics, SIGTERM exits 0.
4. template.yaml's state machine, interpreted state by state (the subset of the States
   Language it uses) with its Task calling ``ingest.aws_lambda.handler`` under a short
   clock, from the daily schedule's input: it must loop through "partial" answers and
   end in its Succeed state with every movie written once.

Also checks the artifacts agree with each other: the bucket the init script creates is the
one INGEST_LAKE names, and the port the image exposes is the one the service listens on,
the healthcheck probes and compose publishes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import yaml
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parent.parent
AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def say(text: str) -> None:
    print(f"smoke_deploy: {text}", flush=True)


def fail(text: str) -> None:
    raise SystemExit(f"smoke_deploy: FAILED: {text}")


def dockerfile() -> tuple[list[str], list[str], int]:
    """The image's CMD, its HEALTHCHECK command and the port it exposes."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    cmd = json.loads(re.findall(r"^CMD (\[.*\])\s*$", text, re.MULTILINE)[-1])
    health = json.loads(re.findall(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.MULTILINE)[-1])
    port = int(re.findall(r"^EXPOSE (\d+)", text, re.MULTILINE)[-1])
    return cmd, health, port


def compose() -> dict[str, Any]:
    out = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        check=True, capture_output=True, text=True, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "TMDB_READ_ACCESS_TOKEN"},
    )  # fmt: skip
    config: dict[str, Any] = yaml.safe_load(out.stdout)
    return config


def local(cmd: list[str]) -> list[str]:
    """A container command, run here: `python` is this interpreter."""
    return [sys.executable if cmd[0] == "python" else cmd[0], *cmd[1:]]


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub...) read as plain values."""


_CfnLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: (
        loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node) if isinstance(node, yaml.MappingNode)
        else loader.construct_scalar(node)
    ),
)  # fmt: skip


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    return loaded


def state_machine(function: Any) -> tuple[str, list[dict[str, Any]]]:
    """Run the template's state machine definition from the schedule's input."""
    props = template()["Resources"]["IngestStateMachine"]["Properties"]
    definition, state = props["Definition"], props["Definition"]["StartAt"]
    schedule_input = props["Events"]["Daily"]["Properties"]["Input"]
    text, subs = schedule_input  # !Sub [template, {GenreList: !Join [sep, !Ref Genres]}]
    genres = template()["Parameters"]["Genres"]["Default"].split(",")
    data: Any = json.loads(text.replace("${GenreList}", subs["GenreList"][0].join(genres)))
    payloads = []

    def path(value: Any, expr: str) -> Any:
        assert expr.startswith("$"), expr
        for part in filter(None, expr[1:].split(".")):
            value = value[part]
        return value

    for _ in range(50):
        spec = definition["States"][state]
        kind = spec["Type"]
        if "InputPath" in spec:
            data = path(data, spec["InputPath"])
        if kind == "Task":
            assert spec["Resource"] == "arn:aws:states:::lambda:invoke"
            assert spec["Parameters"]["Payload.$"] == "$"
            payloads.append(data)
            data = {"Payload": function(data), "StatusCode": 200}
        elif kind == "Choice":
            for rule in spec["Choices"]:
                if path(data, rule["Variable"]) == rule["StringEquals"]:
                    state = rule["Next"]
                    break
            else:
                state = spec["Default"]
            continue
        elif kind == "Succeed":
            return state, payloads
        elif kind != "Pass":
            fail(f"the smoke test does not know state type {kind}")
        if "OutputPath" in spec:
            data = path(data, spec["OutputPath"])
        state = spec["Next"]
    fail("the state machine did not finish in 50 transitions")
    raise AssertionError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    cmd, health, exposed = dockerfile()
    spec = compose()["services"]
    ingest_env = {k: str(v) for k, v in spec["ingest"]["environment"].items()}
    worker_env = {k: str(v) for k, v in spec["worker"]["environment"].items()}
    bucket = spec["localstack"]["environment"]["INGEST_BUCKET"]
    if ingest_env["INGEST_LAKE"] != f"s3://{bucket}" or worker_env["INGEST_LAKE"] != f"s3://{bucket}":
        fail(f"INGEST_LAKE does not name the bucket LocalStack creates ({bucket})")
    # Long form (Compose v2: {"target": 8080, ...}) or short ("127.0.0.1:8080:8080/tcp").
    published = {
        str(p["target"]) if isinstance(p, dict) else str(p).split("/")[0].rsplit(":", 1)[-1]
        for p in spec["worker"]["ports"]
    }
    if str(exposed) not in published or f":{exposed}/" not in health[-1]:
        fail(f"the worker's port {exposed} is not the one compose publishes or the healthcheck probes")
    config_port = re.search(r"^port = (\d+)", (ROOT / "config.toml").read_text(), re.MULTILINE)
    if not config_port or int(config_port.group(1)) != exposed:
        fail(f"config.toml's [service] port is not the {exposed} the image exposes")

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, **_boto_creds())
    fake = subprocess.Popen(
        [sys.executable, "-m", "ingest.standin", "--port", "0", "--crime", "60", "--war", "40"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="smoke-deploy-"))
    try:
        assert fake.stdout is not None
        tmdb_url = fake.stdout.readline().split()[1]
        sys.path.insert(0, str(ROOT))
        from ingest.standin import FAKE_TOKEN

        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TMDB_", "INGEST_"))}
        base |= {"PYTHONPATH": str(ROOT), "AWS_EC2_METADATA_DISABLED": "true"}
        tmdb = {"TMDB_BASE_URL": tmdb_url, "TMDB_READ_ACCESS_TOKEN": FAKE_TOKEN}

        # 1. LocalStack's ready hook, against moto.
        hook_env = base | AWS | {"AWS_ENDPOINT_URL": endpoint, "INGEST_BUCKET": bucket}
        for _ in range(2):
            subprocess.run(["bash", str(ROOT / "deploy/localstack/init-s3.sh")], env=hook_env, check=True)
        s3.head_bucket(Bucket=bucket)
        say(f"init-s3.sh created s3://{bucket} (and left it alone the second time)")

        # The image's /app: config.toml (COPY) and the CSV volume (./data:/app/data).
        app = work / "app"
        app.mkdir()
        shutil.copy2(ROOT / "config.toml", app / "config.toml")
        shutil.copytree(ROOT / "data", app / "data")

        # 2. The compose one-shot service.
        env = base | ingest_env | tmdb | {"AWS_ENDPOINT_URL": endpoint}
        one_shot = [*local(spec["ingest"]["command"]), "--limit", "20"]
        done = subprocess.run(one_shot, cwd=app, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            fail(f"the one-shot ingest exited {done.returncode}: {done.stderr[-2000:]}")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        for part in ("Raw/Local/CSV/Movies/", "Raw/Local/CSV/Series/", "Raw/TMDB/JSON/Movies/"):
            if not any(k.startswith(part) for k in keys):
                fail(f"the one-shot ingest wrote nothing under {part}")
        say(f"compose 'ingest' ({' '.join(spec['ingest']['command'])}) wrote {len(keys)} objects")

        # 3. The image's CMD as the compose worker, on a free port, running at start.
        port_here = free_port()
        cfg = (app / "config.toml").read_text()
        cfg = re.sub(r"^port = \d+", f"port = {port_here}", cfg, flags=re.MULTILINE)
        cfg = re.sub(r"^run_at_start = \w+", "run_at_start = true", cfg, flags=re.MULTILINE)
        (work / "service.toml").write_text(cfg)
        env = (
            base
            | worker_env
            | tmdb
            | {"AWS_ENDPOINT_URL": endpoint, "INGEST_CONFIG": str(work / "service.toml")}
        )
        worker = subprocess.Popen(
            local(cmd), cwd=app, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            probe = local([health[0], *health[1:-1], health[-1].replace(f":{exposed}/", f":{port_here}/")])
            metrics = f"http://127.0.0.1:{port_here}/metrics"
            deadline = time.monotonic() + 120
            healthy = succeeded = False
            while time.monotonic() < deadline and not (healthy and succeeded):
                time.sleep(0.5)
                if worker.poll() is not None:
                    fail(f"the worker exited {worker.returncode}")
                healthy = healthy or subprocess.run(probe, env=base, capture_output=True).returncode == 0
                try:
                    page = urllib.request.urlopen(metrics, timeout=5).read().decode()
                except OSError:
                    continue
                succeeded = 'ingest_runs_total{outcome="succeeded"} 1' in page
            if not (healthy and succeeded):
                fail(f"the worker was not healthy ({healthy}) or did not finish a run ({succeeded})")
            say(f"Dockerfile CMD ({' '.join(cmd)}): HEALTHCHECK passed, /metrics counted a run")
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=90)
            if code != 0:
                fail(f"the worker exited {code} on SIGTERM")
            say("SIGTERM: the worker exited 0")
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

        # 4. The state machine, its Task being the handler with a 5 s clock.
        s3.create_bucket(Bucket="smoke-sfn")
        os.environ.update(AWS | tmdb)
        os.environ |= {"AWS_ENDPOINT_URL": endpoint, "INGEST_LAKE": "s3://smoke-sfn"}
        os.environ |= {"INGEST_LAMBDA_RESERVE_S": "2.5", "INGEST_LOG_LEVEL": "WARNING"}
        (work / "lambda").mkdir()
        (work / "lambda" / "config.toml").write_text("[tmdb]\nrate_per_s = 50\nconcurrency = 10\n")
        os.chdir(work / "lambda")
        from ingest.aws_lambda import handler

        class Context:
            def __init__(self) -> None:
                self.deadline = time.monotonic() + 5.0

            def get_remaining_time_in_millis(self) -> int:
                return int((self.deadline - time.monotonic()) * 1000)

        end, payloads = state_machine(lambda event: handler(event, Context()))
        written = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket="smoke-sfn", Prefix="Raw/TMDB/JSON/Movies/")["Contents"]
        ]
        # A movie of both genres is in both genres' files, once in each.
        per_genre: dict[str, list[int]] = {}
        for key in written:
            body = s3.get_object(Bucket="smoke-sfn", Key=key)["Body"].read()
            per_genre.setdefault(key.rsplit("/", 1)[1].split("-")[0], []).extend(
                json.loads(line)["id"] for line in body.splitlines()
            )
        counts = {g: (len(v), len(set(v))) for g, v in per_genre.items()}
        if len(payloads) < 2 or counts != {"crime": (60, 60), "war": (40, 40)}:
            fail(f"state machine: {len(payloads)} invocations, (records, distinct) per genre {counts}")
        ids = [i for v in per_genre.values() for i in v]
        say(f"state machine: {len(payloads)} invocations chained through 'continue', ended in {end}, "
            f"{len(ids)} movies, each once per genre")  # fmt: skip
    finally:
        fake.terminate()
        fake.wait(timeout=10)
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _boto_creds() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS["AWS_DEFAULT_REGION"],
    }


def asl() -> str:
    """template.yaml's state machine definition as JSON, substitutions filled, for linting."""
    props = template()["Resources"]["IngestStateMachine"]["Properties"]
    text = json.dumps(props["Definition"], indent=2)
    for name in props.get("DefinitionSubstitutions", {}):
        text = text.replace("${" + name + "}", f"arn:aws:lambda:us-east-1:123456789012:function:{name}")
    return text


if __name__ == "__main__":
    if sys.argv[1:] == ["--asl"]:
        print(asl())
        sys.exit(0)
    sys.exit(main())
