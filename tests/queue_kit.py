"""Helpers for the queue tests: SQS queues (with a dead-letter queue) on a real endpoint,
``python -m ingest --enqueue`` and ``python -m workers --queue`` as real processes, and
readers of what they did (the lake, /metrics, their JSON log lines)."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import orjson

from ingest.standin import free_port
from tests.helpers import eventually, run_cli, standin_env, start_cli
from tests.tmdb_fixtures import DATE


@dataclass(frozen=True, slots=True)
class Queues:
    url: str
    dead_letter_url: str


def make_queues(endpoint: str, *, max_receives: int, visibility_s: int) -> Queues:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    name = f"batches-{uuid.uuid4().hex[:10]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dead")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": str(max_receives)})
    url = sqs.create_queue(
        QueueName=name, Attributes={"RedrivePolicy": policy, "VisibilityTimeout": str(visibility_s)}
    )["QueueUrl"]
    return Queues(url, dlq)


def queue_depth(endpoint: str, url: str) -> int:
    """Messages in the queue, visible or not."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def receive_all(endpoint: str, url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages"
    ):
        out += batch
    return out


def env_for(standin_url: str, lake: str, queue_url: str) -> dict[str, str]:
    return standin_env(standin_url, INGEST_LAKE=lake, INGEST_QUEUE_URL=queue_url)


def write_config(folder: Path, *, visibility_s: int, max_attempts: int = 8) -> Path:
    path = folder / "queue.toml"
    path.write_text(
        "[queue]\nwait_s = 1\nbatches_in_flight = 3\n"
        f"visibility_s = {visibility_s}\n"
        f"[tmdb]\nrate_per_s = 1000\nconcurrency = 8\nmax_attempts = {max_attempts}\n"
        "[service]\ngrace_s = 10\n"
    )
    return path


async def enqueue(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    return await run_ingest(env, cwd, "--enqueue", *args)


async def run_ingest(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    """``python -m ingest --date DATE ARGS...``, at the stand-in's pace (not TMDB's 40
    requests a second): its exit code and stderr."""
    done = await run_cli("--date", DATE.isoformat(), "--rate", "1000", *args, cwd=cwd, env=env)
    return done.returncode, done.stderr


@dataclass(slots=True)
class Worker:
    proc: asyncio.subprocess.Process
    port: int
    log: Path
    lines: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """The worker's /metrics as name{labels} -> value."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_bytes().splitlines():
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(event, dict) and event.get("event") == name:
                found.append(event)
        return found

    async def terminate(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 60)


async def start_worker(env: dict[str, str], cwd: Path, config: Path, n: int) -> Worker:
    port = free_port()
    log = cwd / f"worker-{n}.log"
    with log.open("wb") as out:
        args = ("--queue", "--port", str(port), "--config", str(config))
        proc = await start_cli(
            *args, module="workers", cwd=cwd, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    worker = Worker(proc, port, log)

    def started() -> bool:
        assert proc.returncode is None, f"worker exited {proc.returncode}: {log.read_text()[-2000:]}"
        return bool(worker.events("queue_consumer_started"))

    await eventually(started, "the worker to start")
    return worker
