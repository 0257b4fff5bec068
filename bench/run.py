"""The benchmark, in one command: this pipeline against the ways people fill the lake today.

    python bench/run.py            # full run (about 30 min on 2 cores): writes bench/RESULTS.md
    python bench/run.py --smoke    # tiny sizes (a few min), for CI: fails only if a runner breaks
    python bench/run.py --skip-crawl --servers moto,seaweedfs   # the upload part, two servers
    python bench/run.py --link 400mbit --servers seaweedfs      # uploads over a shaped link

Any Python 3.11+ starts it. It makes what it needs: the project's ``.venv`` if missing,
``bench/.venv`` with the baselines (``bench/requirements.txt``), the data under
``bench/work/``, the S3 servers of ``s3servers`` (moto, SeaweedFS, LocalStack; each
upload runs against all three, one server at a time; a server that cannot start here is
skipped with one line saying why) and one TMDB stand-in per crawl (``ingest.standin``,
started through ``standin_process``, with moto as the lake), all on loopback ports it
picks. Every upload and crawl is read back from the bucket and checked before it counts.
It never judges timings: the exit status is non-zero only when a runner failed.

``--link 400mbit`` (or ``1gbit``) runs the uploads (only) inside a private network
namespace whose loopback is shaped by a token bucket (``unshare -n``, ``ip link set lo
up``, ``tc qdisc add dev lo root tbf rate 400mbit burst 1mb latency 100ms``): the server
and every runner share that link. Each link's upload figures are kept in
``bench/work/uploads-<plan>-<link>.json``, and RESULTS.md shows every link measured so
far, with charts of the wall times beside it (``upload-<size>.png``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap

if __name__ == "__main__":
    bootstrap.reexec_in_bench_venv()

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import time

import crawl
import refresh
import report
import report_upload
import s3servers
import sections
import upload
from bootstrap import WORK
from plan import CATALOGUE_SIZES, plans
from procs import moto_server


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the pipeline against today's tools.")
    p.add_argument("--smoke", action="store_true", help="tiny sizes; for CI")
    p.add_argument("--reps-small", type=int, default=3, help="runs per runner, 150 MB file")
    p.add_argument("--reps-big", type=int, default=2, help="runs per runner, 1 GB file")
    p.add_argument("--genre-size", type=int, default=2000, help="movies in the crawled genre")
    p.add_argument(
        "--seed-movies",
        type=int,
        default=400,
        help="movies the seed's way crawls (it is sequential: its rate is flat)",
    )
    p.add_argument(
        "--scale-rate",
        type=float,
        default=400,
        help="rate limit for the 1x/4x/16x growth runs (the real 40/s would take "
        "an hour at 16x; time per request is what grows or not)",
    )
    p.add_argument(
        "--servers",
        default=",".join(s3servers.SERVERS),
        help=f"S3 servers the uploads run against, in order (of {', '.join(s3servers.SERVERS)})",
    )
    p.add_argument("--refresh-genre-size", type=int, default=10_000, help="movies in the daily-refresh genre")
    p.add_argument(
        "--refresh-rate", type=float, default=40, help="rate limit of the daily-refresh runs (TMDB's: 40)"
    )
    p.add_argument("--skip-upload", action="store_true")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: RESULTS.md from the figures kept in bench/work",
    )
    p.add_argument("--skip-crawl", action="store_true")
    p.add_argument("--skip-refresh", action="store_true")
    p.add_argument(
        "--skip-peer", action="store_true", help="no dlt peer beside the crawl (bench/dlt_peer.py)"
    )
    p.add_argument("--only-peer", action="store_true", help="only the dlt peer (writes bench/DLT_PEER.md)")
    p.add_argument(
        "--only-refresh", action="store_true", help="only the daily-refresh section (no upload, no crawl)"
    )
    p.add_argument(
        "--catalogue-sizes",
        default="",
        help="also run the whole catalogue (bench/catalogue.py, writes bench/CATALOGUE.md) at these "
        f"sizes, e.g. {CATALOGUE_SIZES} (hours at 1.1M); a smoke run always runs it at 2,000",
    )
    p.add_argument("--skip-catalogue", action="store_true")
    p.add_argument(
        "--only-catalogue",
        action="store_true",
        help=f"only the whole-catalogue section (at --catalogue-sizes, else {CATALOGUE_SIZES})",
    )
    p.add_argument("--out", default=str(bootstrap.BENCH / "RESULTS.md"))
    p.add_argument(
        "--link",
        choices=("loopback", *upload.LINK_BITS),
        default="loopback",
        help="run the uploads (only) over a shaped link in a private network namespace",
    )
    p.add_argument(
        "--runners",
        default=",".join(upload.SHORT),
        help=f"upload runners, in order (of {','.join(upload.SHORT)})",
    )
    args = p.parse_args()
    # The peer is part of the crawl benchmark: it goes where the crawls go.
    if args.skip_crawl or args.only_refresh or args.only_catalogue or args.report_only:
        args.skip_peer = True
    if args.only_peer:
        args.skip_upload = args.skip_crawl = args.skip_refresh = args.skip_catalogue = True
        args.skip_peer = False
    if args.only_refresh:
        args.skip_upload = args.skip_crawl = args.skip_catalogue = True
    if args.only_catalogue:
        args.skip_upload = args.skip_crawl = args.skip_refresh = True
    if args.report_only:
        args.skip_upload = args.skip_crawl = args.skip_refresh = args.skip_catalogue = True
    unknown = set(args.servers.split(",")) - set(s3servers.SERVERS)
    if unknown:
        p.error(f"unknown server(s) {', '.join(sorted(unknown))}: use {','.join(s3servers.SERVERS)}")
    unknown_runners = set(args.runners.split(",")) - set(upload.SHORT)
    if unknown_runners:
        p.error(f"unknown runner(s) {', '.join(sorted(unknown_runners))}: use {','.join(upload.SHORT)}")
    if args.link != "loopback":
        args.skip_crawl = args.skip_refresh = args.skip_catalogue = args.skip_peer = True
    return args


def main() -> int:
    args = parse_args()
    if args.link != "loopback" and os.environ.get("BENCH_LINK") != args.link:
        return enter_link(args.link)
    # SIGTERM unwinds like Ctrl-C, so the servers and any runner in flight are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plan = plans(args)
    logs = WORK / "logs" / plan.name
    started = time.monotonic()
    failures: list[str] = []

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - started:6.0f}s] {msg}", flush=True)

    uploads: list[upload.FileResult] = []
    skipped: dict[str, str] = {}
    crawls: dict[str, crawl.CrawlResult] = {}
    scale: list[crawl.CrawlResult] = []
    if not args.skip_upload:
        runners = {upload.SHORT[r]: upload.RUNNERS[upload.SHORT[r]] for r in args.runners.split(",")}
        uploads, skipped = sections.run_uploads(plan, logs, failures, say, runners, args.link)
        sections.save_uploads(WORK / f"uploads-{plan.name}-{args.link}.json", plan.servers, uploads, skipped)
    # Every link measured so far, this run's included, in one set of tables.
    uploads, skipped = sections.load_uploads(plan.name)
    refreshed: refresh.RefreshResult | None = None
    if not (args.skip_crawl and args.skip_refresh):
        with moto_server(logs / "moto.log") as endpoint:
            say(f"moto server at {endpoint} (the crawls' lake)")
            if not args.skip_crawl:
                crawls, scale = sections.run_crawls(plan, endpoint, logs, failures, say)
            if not args.skip_refresh:
                refreshed = sections.run_refresh(plan, endpoint, logs, failures, say)
    if plan.peer and not args.skip_peer:
        sections.run_peer(plan, logs, failures, say)
    if plan.catalogue and not args.skip_catalogue:
        sections.run_catalogue(plan, logs, failures, say)
    elapsed = time.monotonic() - started
    ctx = report.Context(
        command=" ".join(["python", "bench/run.py", *sys.argv[1:]]),
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        elapsed_s=elapsed,
        plan_name=plan.name,
        limits=plan.limits,
        scale_limits=plan.scale_limits,
        genre_size=plan.genre_size,
        seed_movies=plan.seed_movies,
        failures=failures,
        skipped_servers=skipped,
    )
    kept = report.kept_sections(plan.out, uploads_only=not (crawls or refreshed))
    text = report.render(ctx, uploads, crawls, scale, refreshed, kept=kept)
    plan.out.parent.mkdir(parents=True, exist_ok=True)
    plan.out.write_text(text)
    for chart in report_upload.charts(uploads, plan.out.parent):
        say(f"wrote {chart}")
    (WORK / f"results-{plan.name}.json").write_text(
        json.dumps(report.as_json(uploads, crawls, scale, refreshed), indent=2)
    )
    say(f"wrote {plan.out} ({elapsed:.0f}s)")
    for f in failures:
        print(f"FAILED: {f.splitlines()[0]}", file=sys.stderr)
    return 1 if failures else 0


def enter_link(link: str) -> int:
    """Run this command again inside a private network namespace whose loopback is shaped
    to ``link``; where no namespace can be made, say so in one line and skip (exit 0)."""
    shape = f"ip link set lo up && tc qdisc add dev lo root tbf rate {link} burst 1mb latency 100ms"
    unshare, tc = shutil.which("unshare"), shutil.which("tc")
    if not (unshare and tc):
        print(f"bench: --link {link} skipped: no unshare or tc on this machine")
        return 0
    probe = subprocess.run([unshare, "-n", "sh", "-c", shape], capture_output=True, text=True)
    if probe.returncode != 0:
        why = (probe.stderr.strip().splitlines() or ["no reason given"])[-1]
        print(f"bench: --link {link} skipped: cannot make a shaped network namespace ({why})")
        return 0
    cmd = [unshare, "-n", "sh", "-c", f'{shape} && exec "$@"', "sh", sys.executable, *sys.argv]
    return subprocess.run(cmd, env=dict(os.environ, BENCH_LINK=link)).returncode


if __name__ == "__main__":
    raise SystemExit(main())
