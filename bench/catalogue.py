"""The whole catalogue (``--catalogue``) against the stand-in serving N movies, on moto.

    python bench/run.py --only-catalogue                       # 10k, 100k, 1.1M (hours)
    python bench/run.py --smoke                                # includes --smoke: the paths, not the figures
    .venv/bin/python bench/catalogue.py --sizes 10000,1100000 --pass-s 180 --rate 200

``bench/run.py`` runs it (``--smoke --sqs moto`` in its smoke run; ``--sizes`` from its
``--catalogue-sizes`` or ``--only-catalogue``) with the project's own interpreter: it
needs only the project, moto and the standard library (``procs.run_sampled``,
``procs.moto_server``), and reads the pipeline's own plan to fill a cut pass's lake.
For each size, against a fresh stand-in
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
   time, messages sent; then (``--worker-s``) one queue worker (``python -m workers
   --queue``) draining that queue for that many seconds before its SIGTERM: movies it
   fetched (the stand-in's count), peak RSS and RSS over its run;
4. when the pass was whole: day two at the stand-in's churn (3% changed, 1% new, 0.2%
   removed a day), incremental: requests against its floor (changed + new movies, the
   changes pages, the export).

Then the cost table (``catalogue_report``): hours for a full pass and for a day at 40 req/s on 1, 4 and 16
egress IPs, from the measured requests per movie; S3 and SQS requests a day, counted
from what the code does per batch (stated beside the table). Writes ``bench/CATALOGUE.md``
(``--out``). It judges nothing: the exit status is non-zero only if a run failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from catalogue_report import CHURN, write  # noqa: E402
from procs import moto_server, run_sampled  # noqa: E402

from ingest.standin import STANDIN_TOKEN, free_port, standin_process  # noqa: E402

PY = sys.executable
DAY0, DAY1 = "2026-11-01", "2026-11-02"
AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def fill(s3: Any, bucket: str) -> int:
    """Give a cut pass's lake every batch's marker and first file (empty placeholders under
    the keys the pipeline would write), so ``status`` lists a whole day's worth of keys."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    from ingest.lake.keys import Kind, tmdb_prefix
    from ingest.state.catalogue_plan import CataloguePlan, header_key
    from ingest.state.markers import marker_key, parse_name

    date = dt.date.fromisoformat(DAY0)
    key = header_key(date, Kind.MOVIES)
    plan = CataloguePlan.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), key)
    have: set[str] = set()
    pages = s3.get_paginator("list_objects_v2")
    for prefix in (tmdb_prefix(Kind.MOVIES, date), plan.dataset.state(date) + "done/"):
        for page in pages.paginate(Bucket=bucket, Prefix=prefix):
            have |= {o["Key"] for o in page.get("Contents", [])}
    done = {name.batch for k in have if (name := parse_name(k))}
    todo = []
    for batch in plan.shapes():
        if batch.number not in done:
            todo.append(marker_key(plan, batch, len(batch.ids), 1))
            todo.append(plan.dataset.file_key(date, batch.number))
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
            # The movie catalogue, as measured before series (config.toml's main job takes both).
            "--media",
            "movies",
            "--lake",
            f"s3://{bucket}",
            "--rate",
            f"{args.rate:g}",
            "--concurrency",
            str(args.concurrency),
        ]
        one = run_sampled([*base, "--date", DAY0], env, logs / f"pass-{n}.log", stop_after_s=args.pass_s)
        s = standin.stats()
        done = one.events("run_completed")
        written = int(done[0]["movies_written"]) if done else 0
        fetched = one.events("plan_frozen")
        planned = int(fetched[0]["ids"]) if fetched else 0
        active_s = float(s["active_s"] or 0)
        movie_s = float(s.get("active_s_by_endpoint", {}).get("movie") or 0)
        movies = int(s["requests"].get("movie", 0))
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
            # Over the movie requests' own window (first to last): the pacing, without the
            # planning between the start-up check and the first movie (seconds at 1.1M).
            "movie_window_s": movie_s,
            "of_ceiling_movies": round((movies - 1) / movie_s / args.rate, 4) if movie_s else None,
            "throttled_429": s["throttled"],
            "peak_rss_mib": round(one.peak_rss_mib, 1),
            "rss_samples_mib": one.rss[:: max(1, len(one.rss) // 24)],
        }
        print(f"  {n}: pass {out['pass']}", flush=True)
        save()
        if args.fill_status and one.returncode != 0:
            out["status_filled"] = fill(s3, bucket)
        st = run_sampled(
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
        enq = run_sampled(
            [
                PY,
                "-m",
                "ingest",
                "--catalogue",
                "--media",
                "movies",
                "--enqueue",
                "--lake",
                f"s3://{fresh}",
                "--date",
                DAY0,
            ],
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
        if args.worker_s and enq.returncode == 0:
            out["worker"] = queue_worker(args, standin, enq_env | {"INGEST_LAKE": f"s3://{fresh}"}, logs, n)
            print(f"  {n}: queue worker {out['worker']}", flush=True)
            save()
        if one.returncode == 0:
            before = standin.stats()
            standin.set_day(1, timeout_s=600)
            two = run_sampled([*base, "--date", DAY1], env, logs / f"day2-{n}.log")
            after = standin.stats()
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


def queue_worker(
    args: argparse.Namespace, standin: Any, env: dict[str, str], logs: Path, n: int
) -> dict[str, Any]:
    """One queue worker on the enqueued plan for ``--worker-s`` seconds, at the pass's rate."""
    config = logs / f"worker-{n}.toml"
    config.write_text(f"[tmdb]\nrate_per_s = {args.rate:g}\nconcurrency = {args.concurrency}\n")
    before = standin.stats()["requests"].get("movie", 0)
    run = run_sampled(
        [PY, "-m", "workers", "--queue", "--config", str(config), "--port", str(free_port())],
        env,
        logs / f"worker-{n}.log",
        stop_after_s=args.worker_s,
    )
    fetched = int(standin.stats()["requests"].get("movie", 0)) - int(before)
    return {
        "seconds": round(run.seconds, 1),
        "returncode": run.returncode,
        "movies_fetched": fetched,
        "peak_rss_mib": round(run.peak_rss_mib, 1),
        "rss_samples_mib": run.rss[:: max(1, len(run.rss) // 24)],
    }


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/catalogue.py")
    p.add_argument("--sizes", default="10000,100000,1100000")
    p.add_argument(
        "--rate", type=float, default=200.0, help="the rate ceiling, requests/s (client and stand-in)"
    )
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--pass-s", type=float, default=None, help="SIGTERM a pass after this many seconds")
    p.add_argument(
        "--worker-s", type=float, default=None, help="after --enqueue, run one queue worker this many seconds"
    )
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
        endpoint = stack.enter_context(moto_server(logs / "moto.log"))
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


if __name__ == "__main__":
    sys.exit(main())
