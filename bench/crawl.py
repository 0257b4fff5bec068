"""Stage 2 benchmark: a genre's movies from the TMDB stand-in held to TMDB's real limits.

Each run gets its own stand-in process (a fresh catalog, rate window and counters) and
its own bucket on the shared moto server. The fake enforces the limits: requests per
second over a sliding one-second window (429 beyond it), requests in flight (429 beyond
it) and a latency of ``latency_ms`` on average (uniform, 0.5x to 1.5x). What the client
really did is read from the stand-in's own counters (``/__stats``), and what it stored is
read back from the bucket: every movie of the genre exactly once, or the run fails.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bootstrap import BENCH
from procs import BENCH_PY, PROJECT_PY, Measured, RunFailed, measure, server
from upload import DATE, aws_env, drop_bucket, s3_client

from ingest.standin import (
    PAGE_SIZE,
    STANDIN_API_KEY,
    STANDIN_TOKEN,
    StandinFailed,
    free_port,
    standin_process,
)

GENRE_ID = 80  # crime


@dataclass(frozen=True)
class Limits:
    rate_per_s: float = 40
    connections: int = 20
    latency_ms: float = 50


@dataclass
class CrawlResult:
    label: str
    genre_size: int
    movies: int  # movies stored (read back from the bucket)
    collections: int  # collection records stored
    measured: Measured
    stats: dict[str, Any]  # the stand-in's counters

    @property
    def seconds(self) -> float:
        return self.measured.seconds

    @property
    def movies_per_s(self) -> float:
        return self.movies / self.seconds

    @property
    def requests(self) -> int:
        return int(self.stats["total"])

    @property
    def movie_requests(self) -> int:
        return int(self.stats["requests"].get("movie", 0))

    @property
    def status_429(self) -> int:
        return int(self.stats["status"].get("429", 0))


def pages_for(movies: int) -> int:
    return math.ceil(movies / PAGE_SIZE)


def ceiling_s(movies: int, collections: int, limits: Limits) -> float:
    """The least time TMDB's rate allows: one discover page per 20 movies, one request
    per movie (details with keywords appended), one per collection."""
    return (pages_for(movies) + movies + collections) / limits.rate_per_s


def _standin_args(genre_size: int, limits: Limits) -> list[str]:
    return [
        "--crime",
        str(genre_size),
        "--rate",
        f"{limits.rate_per_s:g}",
        "--max-connections",
        str(limits.connections),
        "--latency-ms",
        f"{limits.latency_ms:g}",
    ]


def _read_lake(s3, bucket: str) -> tuple[dict[str, list[dict[str, Any]]], int]:  # type: ignore[no-untyped-def]
    """Records under Raw/TMDB/JSON/<kind>/, by kind, whatever the file layout."""
    out: dict[str, list[dict[str, Any]]] = {"Movies": [], "Collections": []}
    files = 0
    for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="Raw/TMDB/JSON/"):
        for o in p.get("Contents", []):
            kind = o["Key"].split("/")[3]
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            files += 1
            text = body.decode("utf-8").strip()
            if text.startswith("["):  # the seed's JSON arrays
                out.setdefault(kind, []).extend(json.loads(text))
            else:  # the contract's JSON Lines
                out.setdefault(kind, []).extend(json.loads(ln) for ln in text.splitlines() if ln)
    return out, files


def run_crawl(
    label: str,
    cmd: Callable[[str, str], list[str]],
    *,
    genre_size: int,
    expect_movies: int,
    limits: Limits,
    endpoint: str,
    logs: Path,
    env_extra: dict[str, str] | None = None,
    with_collections: bool = False,
    handshake_ms: float = 0,
    say: Callable[[str], None] = print,
) -> CrawlResult:
    """One crawl by ``cmd(base_url, bucket)`` against a fresh fake; checked by read-back."""
    s3 = s3_client(endpoint)
    bucket = "crawl-" + "".join(c for c in label.lower() if c.isalnum())[:40]
    s3.create_bucket(Bucket=bucket)
    slug = bucket.removeprefix("crawl-")
    logs.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.ExitStack() as stack:
            fake_log = stack.enter_context((logs / f"fake-{slug}.log").open("w"))
            try:
                standin = stack.enter_context(
                    standin_process(*_standin_args(genre_size, limits), python=PROJECT_PY, stderr=fake_log)
                )
            except StandinFailed as exc:
                raise RunFailed(f"{exc}; see {fake_log.name}") from exc
            port = standin.url.rsplit(":", 1)[1]
            base = standin.url
            if handshake_ms:
                pport = free_port()
                base = f"http://127.0.0.1:{pport}"
                stack.enter_context(
                    server(
                        [
                            PROJECT_PY,
                            str(BENCH / "handshake_proxy.py"),
                            "--port",
                            str(pport),
                            "--upstream-port",
                            port,
                            "--handshake-ms",
                            f"{handshake_ms:g}",
                        ],
                        base + "/__stats",
                        logs / f"proxy-{slug}.log",
                    )
                )
            env = aws_env(endpoint) | {"TMDB_BASE_URL": base} | (env_extra or {})
            m = measure(cmd(base, bucket), env=env, log=logs / f"crawl-{slug}.log")
            stats = standin.stats()
        records, _files = _read_lake(s3, bucket)
    except RunFailed:
        drop_bucket(s3, bucket)
        raise
    drop_bucket(s3, bucket)
    ids = [r["id"] for r in records["Movies"]]
    if len(ids) != expect_movies or len(set(ids)) != expect_movies:
        raise RunFailed(
            f"{label}: stored {len(ids)} movie records ({len(set(ids))} distinct), expected {expect_movies}"
        )
    coll_ids = {r["id"] for r in records.get("Collections", [])}
    if with_collections:
        wanted = {
            r["belongs_to_collection"]["id"] for r in records["Movies"] if r.get("belongs_to_collection")
        }
        if coll_ids != wanted or len(records["Collections"]) != len(wanted):
            raise RunFailed(
                f"{label}: stored {len(records['Collections'])} collection records, "
                f"expected the {len(wanted)} the movies belong to"
            )
    res = CrawlResult(label, genre_size, len(ids), len(coll_ids), m, stats)
    say(
        f"  crawl {label}: {res.movies} movies in {res.seconds:.1f}s = {res.movies_per_s:.2f}/s, "
        f"{res.requests} requests, {res.status_429} x 429, peak RSS "
        f"{m.peak_rss_bytes / 2**20:.0f} MiB"
    )
    return res


def pipeline_cmd(limits: Limits, collections: bool) -> Callable[[str, str], list[str]]:
    def cmd(url: str, bucket: str) -> list[str]:
        args = [
            PROJECT_PY,
            "-m",
            "ingest",
            "--genre",
            "crime",
            # Movies, as measured before series (config.toml's main job takes both).
            "--media",
            "movies",
            "--lake",
            f"s3://{bucket}",
            "--date",
            DATE,
            "--rate",
            f"{limits.rate_per_s:g}",
            "--concurrency",
            str(limits.connections),
        ]
        return args + (["--collections"] if collections else [])

    return cmd


PIPELINE_ENV = {"TMDB_READ_ACCESS_TOKEN": STANDIN_TOKEN}


def seed_cmd(max_movies: int) -> Callable[[str, str], list[str]]:
    def cmd(url: str, bucket: str) -> list[str]:
        return [BENCH_PY, str(BENCH / "runners" / "seed_crawl.py"), str(GENRE_ID), bucket, str(max_movies)]

    return cmd


SEED_ENV = {"TMDB_API_KEY": STANDIN_API_KEY}
