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
from collections.abc import Callable
from dataclasses import dataclass, field

import crawl
import refresh
import report
import report_upload
import s3servers
import upload
from datagen import make_csv
from procs import RunFailed, moto_server

WORK = bootstrap.BENCH / "work"


@dataclass(frozen=True)
class Plan:
    name: str
    files: tuple[tuple[str, str, dict[str, int], int], ...]  # label, dir, size args, reps
    limits: crawl.Limits
    genre_size: int
    seed_movies: int
    scale_limits: crawl.Limits
    scale_factors: tuple[int, ...]
    out: Path
    servers: tuple[str, ...] = tuple(s3servers.SERVERS)
    # The daily refresh: day 1 incremental against day 1 full, for a genre of this size.
    refresh_size: int = 10_000
    refresh_limits: crawl.Limits = field(default_factory=crawl.Limits)
    # What a new connection costs over the internet: TCP + TLS 1.3 handshakes, one round
    # trip each at 50 ms. Modelled by bench/handshake_proxy.py in a second crawl scenario.
    handshake_ms: float = 100


def plans(args: argparse.Namespace) -> Plan:
    if args.smoke:
        return Plan(
            name="smoke",
            files=(("S", "smoke-s", {"rows": 20_000}, 1), ("M", "smoke-m", {"rows": 120_000}, 1)),
            limits=crawl.Limits(rate_per_s=200, connections=20, latency_ms=5),
            genre_size=120,
            seed_movies=20,
            scale_limits=crawl.Limits(rate_per_s=400, connections=20, latency_ms=5),
            scale_factors=(1, 4),
            out=WORK / "RESULTS-smoke.md",
            servers=tuple(args.servers.split(",")),
            handshake_ms=10,
            refresh_size=300,
            refresh_limits=crawl.Limits(rate_per_s=400, connections=20, latency_ms=5),
        )
    return Plan(
        name="full",
        files=(
            ("150 MB", "150mb", {"rows": 1_045_161}, args.reps_small),
            ("1 GB", "1gb", {"target_bytes": 1_000_000_000}, args.reps_big),
        ),
        limits=crawl.Limits(rate_per_s=40, connections=20, latency_ms=50),
        genre_size=args.genre_size,
        seed_movies=args.seed_movies,
        scale_limits=crawl.Limits(rate_per_s=args.scale_rate, connections=20, latency_ms=50),
        scale_factors=(1, 4, 16),
        out=Path(args.out),
        servers=tuple(args.servers.split(",")),
        refresh_size=args.refresh_genre_size,
        refresh_limits=crawl.Limits(rate_per_s=args.refresh_rate, connections=20, latency_ms=50),
    )


Say = Callable[[str], None]


def run_uploads(
    plan: Plan, logs: Path, failures: list[str], say: Say, runners: dict[str, upload.CmdFn], link: str
) -> tuple[list[upload.FileResult], dict[str, str]]:
    """Every upload runner on every file, one server at a time; servers that cannot start
    are returned with the one line saying why."""
    files = []
    for label, sub, size_args, reps in plan.files:
        path = WORK / sub / "movies.csv"
        meta = make_csv(path, rows=size_args.get("rows", 0), target_bytes=size_args.get("target_bytes", 0))
        say(
            f"upload {label}: {path} ({meta['size']:,} bytes, {meta['rows']:,} rows), {reps} run(s) per runner"
        )
        files.append((label, path, meta, reps))
    uploads: list[upload.FileResult] = []
    skipped: dict[str, str] = {}
    for server in plan.servers:
        try:
            with s3servers.SERVERS[server](logs / f"server-{server}.log") as endpoint:
                say(f"{server}: serving S3 at {endpoint}")
                upload.warm_up(endpoint)
                for label, path, meta, reps in files:
                    res = upload.bench_file(
                        label, path, meta, endpoint, reps, logs, runners, say=say, server=server, link=link
                    )
                    failures += [f"upload {server} {label} {k}: {v}" for k, v in res.failed.items()]
                    uploads.append(res)
        except s3servers.ServerUnavailable as exc:
            say(f"{server}: skipped: {exc}")
            skipped[server] = str(exc)
    return uploads, skipped


def run_crawls(
    plan: Plan, endpoint: str, logs: Path, failures: list[str], say: Say
) -> tuple[dict[str, crawl.CrawlResult], list[crawl.CrawlResult]]:
    crawls: dict[str, crawl.CrawlResult] = {}
    scale: list[crawl.CrawlResult] = []
    lim = plan.limits
    n = plan.genre_size
    hs = plan.handshake_ms
    half = max(1, plan.seed_movies // 2)
    runs = [
        ("pipeline", crawl.pipeline_cmd(lim, False), crawl.PIPELINE_ENV, n, False, 0),
        ("pipeline --collections", crawl.pipeline_cmd(lim, True), crawl.PIPELINE_ENV, n, True, 0),
        (
            "seed (tmdbv3api)",
            crawl.seed_cmd(plan.seed_movies),
            crawl.SEED_ENV,
            plan.seed_movies,
            False,
            0,
        ),
        (
            f"pipeline, {hs:g} ms per new connection",
            crawl.pipeline_cmd(lim, False),
            crawl.PIPELINE_ENV,
            n,
            False,
            hs,
        ),
        (
            f"seed (tmdbv3api), {hs:g} ms per new connection",
            crawl.seed_cmd(half),
            crawl.SEED_ENV,
            half,
            False,
            hs,
        ),
    ]
    say(f"crawl: genre of {n} movies at {lim}")
    for label, cmd, env, expect, coll, handshake in runs:
        try:
            crawls[label] = crawl.run_crawl(
                label,
                cmd,
                genre_size=n,
                expect_movies=expect,
                limits=lim,
                endpoint=endpoint,
                logs=logs,
                env_extra=env,
                with_collections=coll,
                handshake_ms=handshake,
                say=say,
            )
        except RunFailed as exc:
            failures.append(f"crawl {label}: {exc}")
            say(f"  crawl {label}: FAILED: {exc}")
    say(f"crawl growth: {plan.scale_factors} x {n} movies at {plan.scale_limits}")
    for k in plan.scale_factors:
        label = f"pipeline {k}x"
        try:
            scale.append(
                crawl.run_crawl(
                    label,
                    crawl.pipeline_cmd(plan.scale_limits, False),
                    genre_size=n * k,
                    expect_movies=n * k,
                    limits=plan.scale_limits,
                    endpoint=endpoint,
                    logs=logs,
                    env_extra=crawl.PIPELINE_ENV,
                    say=say,
                )
            )
        except RunFailed as exc:
            failures.append(f"crawl {label}: {exc}")
            say(f"  crawl {label}: FAILED: {exc}")
    return crawls, scale


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
        "--only-refresh", action="store_true", help="only the daily-refresh section (no upload, no crawl)"
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
    if args.only_refresh:
        args.skip_upload = args.skip_crawl = True
    if args.report_only:
        args.skip_upload = args.skip_crawl = args.skip_refresh = True
    unknown = set(args.servers.split(",")) - set(s3servers.SERVERS)
    if unknown:
        p.error(f"unknown server(s) {', '.join(sorted(unknown))}: use {','.join(s3servers.SERVERS)}")
    unknown_runners = set(args.runners.split(",")) - set(upload.SHORT)
    if unknown_runners:
        p.error(f"unknown runner(s) {', '.join(sorted(unknown_runners))}: use {','.join(upload.SHORT)}")
    if args.link != "loopback":
        args.skip_crawl = args.skip_refresh = True
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
        uploads, skipped = run_uploads(plan, logs, failures, say, runners, args.link)
        save_uploads(WORK / f"uploads-{plan.name}-{args.link}.json", plan.servers, uploads, skipped)
    # Every link measured so far, this run's included, in one set of tables.
    uploads, skipped = load_uploads(plan.name)
    refreshed: refresh.RefreshResult | None = None
    if not (args.skip_crawl and args.skip_refresh):
        with moto_server(logs / "moto.log") as endpoint:
            say(f"moto server at {endpoint} (the crawls' lake)")
            if not args.skip_crawl:
                crawls, scale = run_crawls(plan, endpoint, logs, failures, say)
            if not args.skip_refresh:
                refreshed = run_refresh(plan, endpoint, logs, failures, say)
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


def save_uploads(
    path: Path, servers: tuple[str, ...], uploads: list[upload.FileResult], skipped: dict[str, str]
) -> None:
    """This run's figures for its servers, beside what earlier runs measured on the others."""
    kept: dict[str, object] = {"skipped": {}, "files": []}
    if path.exists():
        kept = json.loads(path.read_text())
    files = [f for f in kept["files"] if f["server"] not in servers]  # type: ignore[attr-defined]
    old_skips = {k: v for k, v in kept["skipped"].items() if k not in servers}  # type: ignore[attr-defined]
    data = {"skipped": {**old_skips, **skipped}, "files": files + [u.to_json() for u in uploads]}
    path.write_text(json.dumps(data, indent=2))


def load_uploads(plan_name: str) -> tuple[list[upload.FileResult], dict[str, str]]:
    uploads: list[upload.FileResult] = []
    skipped: dict[str, str] = {}
    links = ("loopback", *upload.LINK_BITS)
    for link in links:
        f = WORK / f"uploads-{plan_name}-{link}.json"
        if f.exists():
            data = json.loads(f.read_text())
            uploads += [upload.FileResult.from_json(d) for d in data["files"]]
            skipped.update({f"{server} ({link})": why for server, why in data["skipped"].items()})
    return uploads, skipped


def run_refresh(
    plan: Plan, endpoint: str, logs: Path, failures: list[str], say: Say
) -> refresh.RefreshResult | None:
    say(f"refresh: day 1 of a genre of {plan.refresh_size} movies at {plan.refresh_limits}")
    try:
        return refresh.run_refresh(plan.refresh_size, plan.refresh_limits, endpoint, logs, say=say)
    except RunFailed as exc:
        failures.append(f"refresh: {exc}")
        say(f"  refresh: FAILED: {exc}")
        return None


if __name__ == "__main__":
    raise SystemExit(main())
