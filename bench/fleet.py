"""The queue fleet's benchmark: movies/s with 1, 2 and 4 ``python -m workers --queue``
processes, in the two pictures of the TMDB budget (issue 11):

- *one IP per worker*: the stand-in enforces no limit; each worker holds itself to
  40 requests/s by its own limiter, so the fleet's rate grows with its size;
- *one NAT*: the stand-in enforces one 40 requests/s limit over the whole fleet (as TMDB
  does per IP); each worker is configured the documented way, ``egress_workers = N``
  (40 / N each, less each limiter's burst room). The fleet must draw no more 429s than one process does. For contrast,
  the same fleet with every worker at 40 (``egress_workers = 1``) is run too.

    .venv/bin/python bench/fleet.py [--movies 800] [--out bench/work/fleet.md]

Runs with the project's virtualenv (moto's server for S3 and SQS, the stand-in through
``standin_process``). Each run is read back (every movie exactly once) before it counts.
It judges no timing: the exit status is non-zero only when a run is wrong.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.pacing import fleet_share  # noqa: E402
from ingest.standin import free_port, standin_process  # noqa: E402

DATE = "2026-11-28"
RATE = 40


@dataclass(frozen=True)
class Result:
    picture: str
    workers: int
    egress_workers: int
    movies: int
    seconds: float
    throttled: int
    requests: int

    @property
    def movies_per_s(self) -> float:
        return self.movies / self.seconds


def _aws(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def _env(endpoint: str, standin_url: str, token: str, lake: str, queue: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMDB_", "INGEST_", "AWS_"))}
    return env | {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "TMDB_BASE_URL": standin_url,
        "TMDB_READ_ACCESS_TOKEN": token,
        "INGEST_LAKE": lake,
        "INGEST_QUEUE_URL": queue,
        "INGEST_LOG_LEVEL": "WARNING",
    }


def _done_batches(s3: Any, bucket: str) -> int:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="_ingest/")
    return sum(1 for p in pages for o in p.get("Contents", ()) if o["Key"].endswith(".done"))


def _movie_ids(s3: Any, bucket: str) -> Counter[int]:
    ids: Counter[int] = Counter()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="Raw/TMDB/JSON/Movies/")
    for key in (o["Key"] for p in pages for o in p.get("Contents", ())):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        ids.update(json.loads(line)["id"] for line in body.splitlines())
    return ids


def run_once(endpoint: str, work: Path, picture: str, workers: int, egress: int, movies: int) -> Result:
    s3, sqs = _aws(endpoint, "s3"), _aws(endpoint, "sqs")
    bucket = f"fleet-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    queue = sqs.create_queue(QueueName=bucket, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    config = work / f"{bucket}.toml"
    config.write_text(
        f"[tmdb]\nrate_per_s = {RATE}\negress_workers = {egress}\n"
        "[queue]\nwait_s = 1\nbatches_in_flight = 2\n[service]\ngrace_s = 30\n"
    )
    enforced = ("--rate", str(RATE)) if picture != "own IP" else ()
    with standin_process("--war", str(movies), "--seed", "3", *enforced) as standin:
        env = _env(endpoint, standin.url, standin.token, f"s3://{bucket}", queue)
        subprocess.run(
            [sys.executable, "-m", "ingest", "--genre", "war", "--date", DATE, "--enqueue", "--config", str(config)],
            env=env, cwd=work, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        before = standin.stats()
        batches = -(-movies // 100)
        started = time.monotonic()
        command = [sys.executable, "-m", "workers", "--queue", "--config", str(config), "--port"]
        procs = [
            subprocess.Popen([*command, str(free_port())], env=env, cwd=work, stdout=subprocess.DEVNULL)
            for _ in range(workers)
        ]
        try:
            while _done_batches(s3, bucket) < batches:
                if any(p.poll() is not None for p in procs):
                    raise SystemExit(f"fleet: a worker exited early ({picture}, {workers} workers)")
                time.sleep(0.2)
            seconds = time.monotonic() - started
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(60)
        after = standin.stats()
    ids = _movie_ids(s3, bucket)
    if len(ids) != movies or set(ids.values()) != {1}:
        raise SystemExit(f"fleet: {picture} with {workers} workers wrote {sum(ids.values())} records")
    return Result(
        picture, workers, egress, movies, seconds,
        throttled=after["throttled"] - before["throttled"], requests=after["total"] - before["total"],
    )  # fmt: skip


def _each(egress_workers: int) -> float:
    """Each worker's rate, as the settings work it out ([tmdb] egress_workers)."""
    return fleet_share(RATE, egress_workers)


def report(results: list[Result]) -> str:
    lines = [
        "| picture | workers | each at (req/s) | movies | seconds | movies/s | requests | 429s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.picture} | {r.workers} | {_each(r.egress_workers):.1f} | {r.movies} | {r.seconds:.1f} "
            f"| {r.movies_per_s:.1f} | {r.requests} | {r.throttled} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=800)
    parser.add_argument("--only-nat", action="store_true", help="only the one-NAT runs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "work" / "fleet.md")
    args = parser.parse_args()
    work = args.out.parent
    work.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    plan = [("own IP", n, 1) for n in (1, 2, 4)]
    plan += [("one NAT, egress_workers = N", n, n) for n in (1, 2, 4)]
    plan += [("one NAT, each at 40", n, 1) for n in (2, 4)]
    if args.only_nat:
        plan = [p for p in plan if p[0] != "own IP"]
    results = []
    try:
        for picture, workers, egress in plan:
            results.append(run_once(endpoint, work, picture, workers, egress, args.movies))
            print(report(results[-1:]).splitlines()[-1], flush=True)
    finally:
        server.stop()
    args.out.write_text(report(results))
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
