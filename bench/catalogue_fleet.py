"""The whole catalogue on the fleet: ``--catalogue --enqueue``, then queue workers until the
queue is empty, one of them SIGKILLed mid-way and replaced (as an orchestrator restarts a
task), then everything the lake holds read back.

    .venv/bin/python bench/catalogue_fleet.py --movies 1100000 --rate 1000 --workers 3 --kill-after-s 300
    python bench/run.py --smoke         # includes --smoke: 2,000 movies, the paths work

One stand-in (``python -m ingest.standin --catalogue N --rate R``, its sliding second), moto's
S3 and LocalStack's SQS (moto's SQS slows down as its queue grows; ``--sqs moto`` for the
smoke run), all on this machine: one egress IP, so each worker is told ``[tmdb]
egress_workers = W`` and takes its share of ``rate_per_s`` and ``concurrency``.

What it measures: ``--enqueue``'s time and messages; the fleet's wall time from the first
worker to an empty queue; the stand-in's own counts (movie requests, every request, 429s)
and the movies' share of the rate ceiling over the movie requests' window; each worker's
peak RSS (``wait4``) and its RSS once a second over the whole pass. What it checks, and
exits 1 on: every data file read back, no id in the lake twice, the lake's ids and the ids
TMDB answered 404 for together exactly the plan, ``python -m ingest status`` saying
complete, every worker still running at the end exiting 0 on SIGTERM. The raw results go
to ``--out`` as JSON; the figures are copied into ``bench/CATALOGUE.md`` by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import orjson  # noqa: E402
from catalogue import AWS, DAY0, PY  # noqa: E402
from procs import moto_server, rss_mib, run_sampled  # noqa: E402

from ingest.standin import STANDIN_TOKEN, free_port, standin_process  # noqa: E402

LOGS = ROOT / "bench" / "work" / "catalogue"


class Worker:
    """One ``python -m workers --queue``: its RSS once a second, its peak from ``wait4``."""

    def __init__(self, name: str, config: Path, env: dict[str, str]) -> None:
        self.name = name
        self.t0 = time.perf_counter()
        self.rss: list[tuple[float, float]] = []
        self.peak_rss_mib = 0.0
        self.returncode: int | None = None
        self.log = LOGS / f"fleet-{name}.log"
        cmd = [PY, "-m", "workers", "--queue", "--config", str(config), "--port", str(free_port())]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.peak_rss_mib = round(usage.ru_maxrss / 1024, 1)
        self.returncode = os.waitstatus_to_exitcode(status)

    def sample(self) -> None:
        if self.returncode is None and (mib := rss_mib(self.proc.pid)):
            self.rss.append((round(time.perf_counter() - self.t0), round(mib, 1)))

    def stop(self, sig: signal.Signals) -> None:
        if self.returncode is None:
            self.proc.send_signal(sig)
        self._waiter.join(120)

    def summary(self) -> dict[str, Any]:
        steady = [mib for at, mib in self.rss if at >= 10]
        return {
            "returncode": self.returncode,
            "seconds": self.rss[-1][0] if self.rss else 0,
            "peak_rss_mib": self.peak_rss_mib,
            "rss_from_10th_s_mib": [min(steady), max(steady)] if steady else None,
            "rss_samples_mib": self.rss[:: max(1, len(self.rss) // 16)],
        }


def queue_depth(sqs: Any, queue: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=names)["Attributes"]
    return sum(int(attrs[n]) for n in names)


def run_fleet(args: argparse.Namespace, env: dict[str, str], sqs: Any, queue: str) -> dict[str, Any]:
    """W workers until the queue is empty; the first SIGKILLed after ``--kill-after-s`` and
    replaced at once."""
    config = LOGS / "fleet-worker.toml"
    config.write_text(
        f"[tmdb]\nrate_per_s = {args.rate:g}\nconcurrency = {args.concurrency}\n"
        f"egress_workers = {args.workers}\n[queue]\nvisibility_s = {args.visibility_s}\n"
    )
    t0 = time.perf_counter()
    workers = [Worker(f"w{i}", config, env) for i in range(args.workers)]
    killed_at = None
    empty = 0
    while empty < 2:
        time.sleep(1.0)
        for w in workers:
            w.sample()
        elapsed = time.perf_counter() - t0
        if killed_at is None and elapsed >= args.kill_after_s:
            workers[0].stop(signal.SIGKILL)
            killed_at = round(elapsed, 1)
            workers.append(Worker(f"w{len(workers)}", config, env))
        if elapsed > args.timeout_s:
            raise SystemExit(f"the queue was not empty after {args.timeout_s:g} s")
        empty = empty + 1 if queue_depth(sqs, queue) == 0 and killed_at is not None else 0
    drained_s = round(time.perf_counter() - t0, 1)
    for w in workers:
        w.stop(signal.SIGTERM)
    return {
        "drained_s": drained_s,
        "killed_at_s": killed_at,
        "workers": {w.name: w.summary() for w in workers},
    }


def read_back(s3: Any, bucket: str) -> dict[str, Any]:
    """Every data file of the day (JSON Lines), read whole: how many records, how many
    distinct ids."""
    from ingest.lake.keys import Kind, tmdb_prefix

    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=tmdb_prefix(Kind.MOVIES, dt.date.fromisoformat(DAY0))
    ):
        keys += [o["Key"] for o in page.get("Contents", [])]

    def ids(key: str) -> list[int]:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return [int(orjson.loads(line)["id"]) for line in body.splitlines() if line.strip()]

    seen: set[int] = set()
    records = 0
    with ThreadPoolExecutor(16) as pool:
        for found in pool.map(ids, keys):
            records += len(found)
            seen.update(found)
    return {"files": len(keys), "records": records, "distinct_ids": len(seen)}


def catalogue_row(log: Path) -> dict[str, Any]:
    """The ``catalogue movies`` row of the status JSON in ``log`` (empty when none)."""
    for line in log.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            body = json.loads(line)
            if isinstance(body, dict) and "tmdb" in body and "runs" in body:
                for t in body["tmdb"]:
                    if (t["genre"], t["kind"]) == ("catalogue", "movies"):
                        return dict(t)
    return {}


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/catalogue_fleet.py")
    p.add_argument("--movies", type=int, default=100_000, help="the stand-in's catalogue size")
    p.add_argument("--rate", type=float, default=200.0, help="the one egress IP's ceiling, requests/s")
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--kill-after-s", type=float, default=60.0, help="SIGKILL the first worker then")
    p.add_argument("--timeout-s", type=float, default=4 * 3600.0)
    p.add_argument(
        "--visibility-s",
        type=int,
        default=60,
        help="[queue] visibility_s: when a killed worker's batches return",
    )
    p.add_argument("--sqs", choices=("localstack", "moto"), default="localstack")
    p.add_argument("--smoke", action="store_true", help="2,000 movies, a kill after 3 s: the paths work")
    p.add_argument("--out", type=Path, default=LOGS / "fleet.json")
    args = p.parse_args()
    if args.smoke:
        args.movies, args.kill_after_s, args.rate, args.visibility_s = 2000, 3.0, 400.0, 5
    LOGS.mkdir(parents=True, exist_ok=True)
    os.environ.update(AWS)
    with contextlib.ExitStack() as stack:
        endpoint = stack.enter_context(moto_server(LOGS / "fleet-moto.log"))
        sqs_endpoint = endpoint
        if args.sqs == "localstack":
            from scripts.localstack import serve

            sqs_endpoint = stack.enter_context(serve())
        standin = stack.enter_context(
            standin_process("--catalogue", str(args.movies), "--rate", f"{args.rate:g}", python=PY)
        )
        out = measure(args, endpoint, sqs_endpoint, standin)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "fleet"}, indent=1))
    print(f"wrote {args.out}")
    return 0 if out["checks"]["all_passed"] else 1


def measure(args: argparse.Namespace, endpoint: str, sqs_endpoint: str, standin: Any) -> dict[str, Any]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name="us-east-1")
    bucket = f"fleet-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    queue = sqs.create_queue(QueueName=bucket)["QueueUrl"]
    env = (
        dict(os.environ)
        | AWS
        | {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_SQS": sqs_endpoint,
            "TMDB_BASE_URL": standin.url,
            "TMDB_READ_ACCESS_TOKEN": STANDIN_TOKEN,
            "TMDB_EXPORTS_URL": standin.url + "/p/exports",
            "INGEST_QUEUE_URL": queue,
            "INGEST_LAKE": f"s3://{bucket}",
            "PYTHONPATH": str(ROOT),
        }
    )
    lake = ["--lake", f"s3://{bucket}", "--date", DAY0]
    enq = run_sampled(
        [PY, "-m", "ingest", "--catalogue", "--media", "movies", "--enqueue", *lake],
        env,
        LOGS / "fleet-enqueue.log",
    )
    frozen = enq.events("plan_frozen")
    planned = int(frozen[0]["ids"]) if frozen else 0
    sent = sum(int(e["batches"]) for e in enq.events("batches_enqueued"))
    before = standin.stats()
    fleet = run_fleet(args, env, sqs, queue)
    s = standin.stats()
    movies = int(s["requests"].get("movie", 0)) - int(before["requests"].get("movie", 0))
    movie_s = float(s.get("active_s_by_endpoint", {}).get("movie") or 0)
    st = run_sampled([PY, "-m", "ingest", "status", "--json", *lake], env, LOGS / "fleet-status.log")
    row = catalogue_row(st.log)
    lake_read = read_back(s3, bucket)
    checks = {
        "status_complete": st.returncode == 0,
        "no_id_twice": lake_read["records"] == lake_read["distinct_ids"],
        "lake_and_404s_are_the_plan": lake_read["distinct_ids"] + int(row.get("not_found", -1)) == planned,
        "workers_exit_0_on_sigterm": all(
            w["returncode"] == 0 for name, w in fleet["workers"].items() if name != "w0"
        ),
    }
    checks["all_passed"] = all(checks.values())
    return {
        "movies_served": args.movies,
        "rate": args.rate,
        "workers": args.workers,
        "enqueue": {"seconds": round(enq.seconds, 1), "messages": sent, "returncode": enq.returncode},
        "planned": planned,
        "not_found": row.get("not_found"),
        "drained_s": fleet["drained_s"],
        "killed_at_s": fleet["killed_at_s"],
        "movie_requests": movies,
        "refetched": movies - planned,
        "requests": int(s["total"]) - int(before["total"]),
        "throttled_429": int(s["throttled"]) - int(before["throttled"]),
        "of_ceiling_movies": round((movies - 1) / movie_s / args.rate, 4) if movie_s else None,
        "lake": lake_read,
        "status_s": round(st.seconds, 2),
        "checks": checks,
        "worker_peak_rss_mib": {n: w["peak_rss_mib"] for n, w in fleet["workers"].items()},
        "worker_rss_from_10th_s_mib": {n: w["rss_from_10th_s_mib"] for n, w in fleet["workers"].items()},
        "fleet": fleet,
    }


if __name__ == "__main__":
    sys.exit(main())
