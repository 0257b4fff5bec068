"""The whole catalogue (``--catalogue``) against the stand-in serving N movies, on moto.

    .venv/bin/python bench/catalogue.py                       # 10k, 100k, 1.1M (long)
    .venv/bin/python bench/catalogue.py --sizes 2000 --smoke  # a minute: the paths, not the figures
    .venv/bin/python bench/catalogue.py --sizes 10000,1100000 --pass-s 180 --rate 200

Runs with the project's own interpreter (no bench venv: it needs only the project, moto
and the standard library). For each size, against a fresh stand-in
(``python -m ingest.standin --catalogue N``, its rate enforced over a sliding second)
and a fresh moto bucket:

1. a one-shot ``--catalogue`` pass at ``--rate`` (the stand-in enforces the same rate);
   cut by SIGTERM after ``--pass-s`` seconds when the whole pass would not fit (the run
   stops between batches, as it would on a deploy): requests per movie (the stand-in's
   own count, the export and changes pages included), movies/s against the rate ceiling
   over the fetch window, 429s, peak RSS (the kernel's ``ru_maxrss`` via ``wait4``) and
   RSS sampled as the pass goes on;
2. ``python -m ingest status`` for the day (its wall time; it answers from listings);
3. ``--catalogue --enqueue`` into a fresh bucket and an SQS queue on the same moto: wall
   time, messages sent;
4. when the pass was whole: day two at the stand-in's churn (3% changed, 1% new, 0.2%
   removed a day), incremental: requests against its floor (changed + new movies, the
   changes pages, the export).

Then the cost table: hours for a full pass and for a day at 40 req/s on 1, 4 and 16
egress IPs, from the measured requests per movie; S3 and SQS requests a day, counted
from what the code does per batch (stated beside the table). Writes ``bench/CATALOGUE.md``
(``--out``). It judges nothing: the exit status is non-zero only if a run failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from ingest.standin import STANDIN_TOKEN, free_port, standin_process  # noqa: E402

PY = sys.executable
DAY0, DAY1 = "2026-11-01", "2026-11-02"
AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
CHURN = {"changed": 0.03, "added": 0.01, "removed": 0.002}


@dataclass
class Run:
    seconds: float
    peak_rss_mib: float
    returncode: int
    log: Path
    # (seconds since start, RSS MiB, catalogue files in the lake so far is not known here)
    rss: list[tuple[float, float]] = field(default_factory=list)

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and event.get("event") == name:
                    found.append(event)
        return found


def _rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(cmd: list[str], env: dict[str, str], log: Path, stop_after_s: float | None = None) -> Run:
    """Run ``cmd`` (one process); its wall time, the kernel's peak RSS, RSS samples."""
    samples: list[tuple[float, float]] = []
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                samples.append((round(time.perf_counter() - t0, 1), round(_rss_mib(proc.pid), 1)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = None
        if stop_after_s is not None:
            timer = threading.Timer(stop_after_s, proc.send_signal, (signal.SIGTERM,))
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        done.set()
        if timer is not None:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(seconds, usage.ru_maxrss / 1024, proc.returncode, log, samples)


@contextlib.contextmanager
def moto(logs: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (logs / "moto.log").open("wb") as out:
        proc = subprocess.Popen(
            [PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(300):
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                    break
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/__stats", timeout=30) as resp:
        return dict(json.loads(resp.read()))


def set_day(url: str, day: int) -> None:
    request = urllib.request.Request(f"{url}/__day?day={day}", method="POST")
    urllib.request.urlopen(request, timeout=600).close()


def fill(s3: Any, bucket: str) -> int:
    """Give a cut pass's lake every batch's marker and first file (empty placeholders under
    the keys the pipeline would write), so ``status`` lists a whole day's worth of keys."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    from ingest.lake.keys import CATALOGUE, Kind, tmdb_key, tmdb_prefix
    from ingest.tmdb.catalogue_plan import CataloguePlan, header_key
    from ingest.tmdb.markers import marker_key

    date = dt.date.fromisoformat(DAY0)
    key = header_key(date, Kind.MOVIES)
    plan = CataloguePlan.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), key)
    facade = plan.facade()
    have: set[str] = set()
    pages = s3.get_paginator("list_objects_v2")
    for prefix in (tmdb_prefix(Kind.MOVIES, date), key.rsplit("/", 1)[0] + "/done/"):
        for page in pages.paginate(Bucket=bucket, Prefix=prefix):
            have |= {o["Key"] for o in page.get("Contents", [])}
    done = {int(k.rsplit("/", 1)[1][:5]) for k in have if k.endswith(".done")}
    todo = []
    for batch in plan.shapes():
        if batch.number not in done:
            todo.append(marker_key(facade, batch, len(batch.ids), 1))
            todo.append(tmdb_key(Kind.MOVIES, date, CATALOGUE, batch.number))
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b""), todo))
    return len(todo)


def one_size(
    n: int,
    args: argparse.Namespace,
    endpoint: str,
    sqs_endpoint: str,
    logs: Path,
    out: dict[str, Any],
    save: Callable[[], None],
) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"cat-{n}-{uuid.uuid4().hex[:6]}"
    s3.create_bucket(Bucket=bucket)
    out["movies"] = n
    churn = [
        "--changed-per-day",
        str(CHURN["changed"]),
        "--added-per-day",
        str(CHURN["added"]),
        "--removed-per-day",
        str(CHURN["removed"]),
    ]
    standin_args = ["--catalogue", str(n), "--rate", f"{args.rate:g}", *churn]
    with standin_process(*standin_args, python=PY) as standin:
        env = (
            dict(os.environ)
            | AWS
            | {
                "AWS_ENDPOINT_URL": endpoint,
                "TMDB_BASE_URL": standin.url,
                "TMDB_READ_ACCESS_TOKEN": STANDIN_TOKEN,
                "TMDB_EXPORTS_URL": standin.url + "/p/exports",
                "PYTHONPATH": str(ROOT),
            }
        )
        base = [
            PY,
            "-m",
            "ingest",
            "--catalogue",
            "--lake",
            f"s3://{bucket}",
            "--rate",
            f"{args.rate:g}",
            "--concurrency",
            str(args.concurrency),
        ]
        one = run([*base, "--date", DAY0], env, logs / f"pass-{n}.log", stop_after_s=args.pass_s)
        s = stats(standin.url)
        done = one.events("run_completed")
        written = int(done[0]["movies_written"]) if done else 0
        fetched = one.events("plan_frozen")
        planned = int(fetched[0]["ids"]) if fetched else 0
        active_s = float(s["active_s"] or 0)
        out["pass"] = {
            "whole": one.returncode == 0,
            "returncode": one.returncode,
            "planned": planned,
            "written": written,
            "seconds": round(one.seconds, 1),
            "fetch_window_s": round(active_s, 1),
            "requests": s["total"],
            "requests_by_endpoint": s["requests"],
            "requests_per_movie": round(int(s["total"]) / written, 5) if written else None,
            "movies_per_s": round(written / active_s, 2) if active_s else None,
            "of_ceiling": round(written / active_s / args.rate, 4) if active_s else None,
            "throttled_429": s["throttled"],
            "peak_rss_mib": round(one.peak_rss_mib, 1),
            "rss_samples_mib": one.rss[:: max(1, len(one.rss) // 24)],
        }
        print(f"  {n}: pass {out['pass']}", flush=True)
        save()
        if args.fill_status and one.returncode != 0:
            out["status_filled"] = fill(s3, bucket)
        st = run(
            [PY, "-m", "ingest", "status", "--lake", f"s3://{bucket}", "--date", DAY0, "--json"],
            env,
            logs / f"status-{n}.log",
        )
        out["status_s"] = round(st.seconds, 2)
        # --enqueue: a fresh bucket (so the whole plan is sent) and a queue on the same moto.
        save()
        sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name="us-east-1")
        queue = sqs.create_queue(QueueName=f"cat-{n}-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        fresh = f"cat-enq-{n}-{uuid.uuid4().hex[:6]}"
        s3.create_bucket(Bucket=fresh)
        enq_env = env | {"INGEST_QUEUE_URL": queue, "AWS_ENDPOINT_URL_SQS": sqs_endpoint}
        enq = run(
            [PY, "-m", "ingest", "--catalogue", "--enqueue", "--lake", f"s3://{fresh}", "--date", DAY0],
            enq_env,
            logs / f"enqueue-{n}.log",
        )
        sent = sum(int(e["batches"]) for e in enq.events("batches_enqueued"))
        out["enqueue"] = {
            "seconds": round(enq.seconds, 1),
            "messages": sent,
            "returncode": enq.returncode,
            "peak_rss_mib": round(enq.peak_rss_mib, 1),
        }
        print(f"  {n}: enqueue {out['enqueue']}, status {out['status_s']} s", flush=True)
        save()
        if one.returncode == 0:
            before = stats(standin.url)
            set_day(standin.url, 1)
            two = run([*base, "--date", DAY1], env, logs / f"day2-{n}.log")
            after = stats(standin.url)
            frozen = two.events("plan_frozen")
            inc = frozen[0] if frozen else {}
            requests = int(after["total"]) - int(before["total"])
            floor = (
                int(inc.get("changed", 0)) + int(inc.get("new", 0)) + int(inc.get("changes_requests", 0)) + 1
            )
            out["day_two"] = {
                "returncode": two.returncode,
                "seconds": round(two.seconds, 1),
                "refresh": inc.get("refresh"),
                "changed": inc.get("changed"),
                "new": inc.get("new"),
                "removed": inc.get("removed"),
                "changes_pages": inc.get("changes_requests"),
                "requests": requests,
                "floor": floor,
                "of_floor": round(requests / floor, 4) if floor else None,
                "peak_rss_mib": round(two.peak_rss_mib, 1),
            }
            print(f"  {n}: day two {out['day_two']}", flush=True)


def cost_table(results: list[dict[str, Any]], rate: float = 40.0) -> list[str]:
    measured = [
        r["pass"]["requests_per_movie"] for r in results if r.get("pass", {}).get("requests_per_movie")
    ]
    per_movie = float(max(measured)) if measured else 1.0
    full, day = 1_100_000, int(1_100_000 * (CHURN["changed"] + CHURN["added"]))
    lines = [
        f"At {rate:g} requests/s per egress IP, {per_movie:.4f} requests per movie (the largest measured above):",
        "",
        "| work | movies | 1 IP | 4 IPs | 16 IPs |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    # The changes window starts on the snapshot's own day, so a day also refetches what the
    # snapshot day changed (TMDB's feed has no times to tell before the fetch from after).
    overlap = day + int(1_100_000 * CHURN["changed"])
    rows = (
        ("full pass (1.1M)", full),
        ("a day at 3% changed + 1% new", day),
        ("the same day, with the snapshot day's changes read again", overlap),
    )
    for label, movies in rows:
        hours = [movies * per_movie / (rate * ips) / 3600 for ips in (1, 4, 16)]
        lines.append(f"| {label} | {movies:,} | " + " | ".join(f"{h:.2f} h" for h in hours) + " |")
    batches, day_batches = full // 100, day // 100
    chunks = -(-full // 10_000)
    # What the code does per batch (ingest.tmdb.sink, ingest.queue.catalogue, ingest.queue.consumer).
    s3_full = batches * 2 + chunks + 1 + 2 * (batches // 1000 + 1)
    s3_day = day_batches * 2 + 2 * chunks + 2 + 2 * (batches // 1000 + 1) + 110
    s3_queue = batches * (2 + 1 + 1 + 1 + 1 + 1)
    sqs_queue = batches // 10 + batches + batches + batches
    lines += [
        "",
        "| requests a day | full pass, one-shot | a day (incremental), one-shot | full pass on the queue |",
        "| --- | ---: | ---: | ---: |",
        f"| S3 (PUT + LIST + GET) | {s3_full:,} | {s3_day:,} | {s3_full + s3_queue:,} |",
        f"| SQS | 0 | 0 | {sqs_queue:,} |",
        "",
        "S3, one-shot: two PUTs a batch (its file, its done-marker), the plan's chunks and header, two listings",
        "of 1,000 keys a page (markers, files) at the start; an incremental day also writes the snapshot's",
        "member chunks and reads the previous day's. On the queue each batch also costs a GET of the header",
        "and of its chunk, a LIST of its own markers, a HEAD of its first file, a LIST of its hundred and,",
        "now and then, a PUT and a LIST of the hundreds. SQS: 1 SendMessageBatch per 10 batches, then per",
        "batch at least one ReceiveMessage (up to 10 a call when the queue is deep), one DeleteMessage and",
        "one ChangeMessageVisibility (renewal) for a batch that outlives its visibility: counted from the code,",
        "not measured. At list prices (S3 $0.005 per 1,000 PUT/LIST, $0.0004 per 1,000 GET; SQS $0.40 per",
        "million) a full pass on the queue is well under a dollar of requests.",
    ]
    return lines


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/catalogue.py")
    p.add_argument("--sizes", default="10000,100000,1100000")
    p.add_argument(
        "--rate", type=float, default=200.0, help="the rate ceiling, requests/s (client and stand-in)"
    )
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--pass-s", type=float, default=None, help="SIGTERM a pass after this many seconds")
    p.add_argument(
        "--fill-status",
        action="store_true",
        help="before timing status on a cut pass, fill the lake with every batch's marker and file keys",
    )
    p.add_argument(
        "--sqs", choices=("localstack", "moto"), default="localstack", help="where --enqueue's queue is"
    )
    p.add_argument("--smoke", action="store_true", help="one small size, a short run: the paths work")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "CATALOGUE.md")
    args = p.parse_args()
    os.environ.update(AWS)
    sizes = [2000] if args.smoke else [int(x) for x in args.sizes.split(",")]
    logs = ROOT / "bench" / "work" / "catalogue"
    logs.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []

    def save() -> None:
        write(args, results)

    with contextlib.ExitStack() as stack:
        endpoint = stack.enter_context(moto(logs))
        sqs_endpoint = endpoint
        if args.sqs == "localstack":
            # moto's SQS slows down as its queue grows (each SendMessageBatch takes longer):
            # --enqueue's 11,000 messages are timed against LocalStack's SQS instead.
            from scripts.localstack import serve

            sqs_endpoint = stack.enter_context(serve())
        for n in sizes:
            results.append({})
            one_size(n, args, endpoint, sqs_endpoint, logs, results[-1], save)
            save()
    print(f"wrote {args.out}")
    failed = [r for r in results if r.get("enqueue", {}).get("returncode") not in (0,)]
    return 1 if failed else 0


def write(args: argparse.Namespace, results: list[dict[str, Any]]) -> None:
    body = [
        "# The whole catalogue: bench/catalogue.py",
        "",
        f"`{' '.join(sys.argv)}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, rate ceiling "
        f"{args.rate:g} req/s, concurrency {args.concurrency}, S3 on moto, SQS on {args.sqs}, on a machine shared "
        "with other jobs (2 cores).",
        "",
        "```json",
        json.dumps(results, indent=1),
        "```",
        "",
        *cost_table(results),
        "",
    ]
    args.out.write_text("\n".join(body))


if __name__ == "__main__":
    sys.exit(main())
