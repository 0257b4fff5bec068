"""Daily refresh benchmark: day 1 of a genre fetched incrementally against fetched in full.

One run: the TMDB stand-in's catalogue on day 0 is crawled in full into a bucket (set-up,
at a high rate, not measured); then, on day 1 (the stand-in's clock: a share of the
movies changed, added, removed), two measured runs at the section's limits, each against
a fresh stand-in process (its own rate window and counters): ``--refresh incremental``
into the day-0 bucket (it reads the changes feed from day 0's cursor) and ``--refresh
full`` into an empty one. Both are movies and their collections, the daily job. Each is
read back: the full partition holds every movie of the genre once, the incremental one
exactly the ids its summary says changed or joined, each once and among the full ones.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawl import PIPELINE_ENV, Limits
from procs import PROJECT_PY, Measured, RunFailed, measure
from upload import aws_env, drop_bucket, s3_client

from ingest.standin import StandinFailed, standin_process

# The day: 3% of the movies change, 1% are added, 0.2% removed.
CHURN = {"changed": 0.03, "added": 0.01, "removed": 0.002}
SETUP_RATE = 1000.0


@dataclass
class RefreshRun:
    label: str
    movie_ids: list[int]
    collections: int
    measured: Measured
    stats: dict[str, Any]  # the stand-in's counters
    summary: dict[str, Any]  # the run's run_completed line

    @property
    def seconds(self) -> float:
        return self.measured.seconds

    @property
    def requests(self) -> int:
        return int(self.stats["total"])


@dataclass
class RefreshResult:
    genre_size: int
    churn: dict[str, float]
    limits: Limits
    incremental: RefreshRun
    full: RefreshRun

    @property
    def request_ratio(self) -> float:
        return self.full.requests / max(1, self.incremental.requests)

    @property
    def time_ratio(self) -> float:
        return self.full.seconds / self.incremental.seconds


def _standin_args(genre_size: int, day: int, rate: float, limits: Limits | None) -> list[str]:
    args = ["--crime", str(genre_size), "--seed", "7", "--day", str(day), "--rate", f"{rate:g}"]
    args += [f"--{k}-per-day={v:g}" for k, v in CHURN.items()]
    if limits is not None:
        args += ["--max-connections", str(limits.connections), "--latency-ms", f"{limits.latency_ms:g}"]
    return args


def _cmd(bucket: str, date: str, refresh: str, rate: float, connections: int) -> list[str]:
    return [
        PROJECT_PY, "-m", "ingest", "--genre", "crime", "--media", "movies", "--collections", "--lake", f"s3://{bucket}",
        "--date", date, "--refresh", refresh, "--rate", f"{rate:g}", "--concurrency", str(connections),
    ]  # fmt: skip


def _summary(log: Path) -> dict[str, Any]:
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{") and '"run_completed"' in line:
            found: dict[str, Any] = json.loads(line)
            return found
    raise RunFailed(f"no run_completed line in {log}")


def _run(
    label: str,
    genre_size: int,
    day: int,
    bucket: str,
    refresh: str,
    rate: float,
    limits: Limits | None,
    endpoint: str,
    logs: Path,
) -> tuple[Measured, dict[str, Any], dict[str, Any], str]:
    slug = label.replace(" ", "-")
    with contextlib.ExitStack() as stack:
        fake_log = stack.enter_context((logs / f"fake-refresh-{slug}.log").open("w"))
        try:
            standin = stack.enter_context(
                standin_process(
                    *_standin_args(genre_size, day, rate, limits), python=PROJECT_PY, stderr=fake_log
                )
            )
        except StandinFailed as exc:
            raise RunFailed(f"{exc}; see {fake_log.name}") from exc
        date = str(standin.ready["date"])
        env = aws_env(endpoint) | {"TMDB_BASE_URL": standin.url} | PIPELINE_ENV
        conns = limits.connections if limits else 20
        m = measure(_cmd(bucket, date, refresh, rate, conns), env=env, log=logs / f"refresh-{slug}.log")
        return m, standin.stats(), _summary(m.log), date


def run_refresh(
    genre_size: int, limits: Limits, endpoint: str, logs: Path, say: Callable[[str], None] = print
) -> RefreshResult:
    """Day 0 in full (set-up), then day 1 incremental and day 1 full, measured."""
    s3 = s3_client(endpoint)
    logs.mkdir(parents=True, exist_ok=True)
    inc_bucket, full_bucket = "refresh-incremental", "refresh-full"
    for b in (inc_bucket, full_bucket):
        s3.create_bucket(Bucket=b)
    try:
        m0, _, _, _ = _run("day 0", genre_size, 0, inc_bucket, "full", SETUP_RATE, None, endpoint, logs)
        say(f"  refresh: day 0 in full (set-up) in {m0.seconds:.1f}s")
        runs: dict[str, RefreshRun] = {}
        for label, bucket, refresh in (
            ("day 1 incremental", inc_bucket, "incremental"),
            ("day 1 full", full_bucket, "full"),
        ):
            m, stats, summary, date = _run(
                label, genre_size, 1, bucket, refresh, limits.rate_per_s, limits, endpoint, logs
            )
            if summary.get("refresh") != refresh:
                raise RunFailed(f"{label}: ran as {summary.get('refresh')!r}, not {refresh!r}")
            movies = [r["id"] for r in _partition(s3, bucket, "Movies", date)]
            collections = _partition(s3, bucket, "Collections", date)
            runs[label] = RefreshRun(label, movies, len(collections), m, stats, summary)
            say(
                f"  refresh {label}: {len(movies)} movies, {len(collections)} collections in "
                f"{m.seconds:.1f}s, {stats['total']} requests"
            )
        inc, full = runs["day 1 incremental"], runs["day 1 full"]
        _check(inc, full)
    finally:
        for b in (inc_bucket, full_bucket):
            drop_bucket(s3, b)
    return RefreshResult(genre_size, CHURN, limits, inc, full)


def _partition(s3, bucket: str, kind: str, date: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The records of one kind's partition for ``date`` (JSON Lines)."""
    prefix = f"Raw/TMDB/JSON/{kind}/{dt.date.fromisoformat(date):%Y/%m/%d}/"
    out: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode("utf-8")
            out += [json.loads(line) for line in body.splitlines() if line.strip()]
    return out


def _check(inc: RefreshRun, full: RefreshRun) -> None:
    """Read back: the snapshot holds every member once; the increment exactly the ids its
    summary says changed or joined, once each, all of them members."""
    for run in (inc, full):
        if len(run.movie_ids) != len(set(run.movie_ids)):
            raise RunFailed(f"{run.label}: a movie is stored twice")
    s = inc.summary
    fetched = int(s["ids_changed"]) + int(s["ids_new"])
    if len(inc.movie_ids) + int(s["records_skipped"]) != fetched:
        raise RunFailed(f"{inc.label}: stored {len(inc.movie_ids)} movies, planned {fetched}")
    if not set(inc.movie_ids) <= set(full.movie_ids):
        raise RunFailed(f"{inc.label}: stored movies the full snapshot does not hold")
    members = len(full.movie_ids) + int(full.summary["records_skipped"])
    if fetched + int(s["ids_unchanged_skipped"]) != members:
        raise RunFailed(
            f"{inc.label}: {fetched} fetched + {s['ids_unchanged_skipped']} unchanged, but the "
            f"full snapshot has {members} members"
        )
