"""The sections of a benchmark run, each measured and checked by read-back: the uploads
(every runner, file and server; their figures kept per link), the crawls, the daily
refresh and the whole catalogue. A runner that fails is added to ``failures`` with one
line, and the run goes on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import bootstrap
import crawl
import refresh
import s3servers
import upload
from bootstrap import BENCH, WORK
from datagen import make_csv
from plan import Plan
from procs import PROJECT_PY, RunFailed, measure

# A catalogue of 1.1 million movies at 200 requests/s runs for hours.
SCRIPT_TIMEOUT_S = 12 * 3600.0

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


def _script(section: str, script: str, args: list[str], logs: Path, failures: list[str], say: Say) -> bool:
    """Run ``bench/<script> args`` with the project's interpreter; False (and a failure
    recorded) when it failed."""
    log = logs / script.replace(".py", ".log")
    say(f"{section}: bench/{script} {' '.join(args)}")
    cmd = [PROJECT_PY, str(BENCH / script), *args]
    try:
        m = measure(cmd, env=dict(os.environ), log=log, timeout_s=SCRIPT_TIMEOUT_S)
    except RunFailed as exc:
        failures.append(f"{section}: {script}: {exc}")
        say(f"  {section}: {script} FAILED: {exc}")
        return False
    say(f"  {section}: {script} done in {m.seconds:.0f}s; its log: {log}")
    return True


def run_catalogue(plan: Plan, logs: Path, failures: list[str], say: Say) -> None:
    """The whole catalogue (``--catalogue``): ``bench/catalogue.py`` with the project's
    interpreter (it reads the pipeline's own plan to fill a cut pass's lake), which
    writes its own page (``bench/CATALOGUE.md``, or ``work/CATALOGUE-smoke.md``); then
    ``bench/catalogue_status.py``, status alone over a whole day's keys; then
    ``bench/catalogue_fleet.py``, the whole catalogue on queue workers, one killed."""
    if _script("catalogue", "catalogue.py", [*plan.catalogue], logs, failures, say):
        _script("catalogue", "catalogue_status.py", [*plan.catalogue_status], logs, failures, say)
        _script("catalogue", "catalogue_fleet.py", [*plan.catalogue_fleet], logs, failures, say)


def run_peer(plan: Plan, logs: Path, failures: list[str], say: Say) -> None:
    """dlt's REST API source beside the genre crawl (``bench/dlt_peer.py``), on one
    rate-limited stand-in, dlt in ``bench/.venv-dlt``; it writes ``bench/DLT_PEER.md``
    (``work/DLT_PEER-smoke.md`` in a smoke run)."""
    dlt_python = bootstrap.ensure_dlt_env()
    _script("peer", "dlt_peer.py", ["--dlt-python", str(dlt_python), *plan.peer], logs, failures, say)
