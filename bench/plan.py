"""What a benchmark run measures: the smoke plan (toy sizes, for CI) or the full one.

``plans(args)`` makes it from ``run.py``'s flags: the CSV files and their repetitions,
the crawls' limits and genre sizes, the S3 servers, the daily refresh's genre, the
handshake a new connection costs, and the arguments of the whole-catalogue run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import crawl
import s3servers
from bootstrap import WORK

# The catalogue study's sizes, for ``--only-catalogue`` without ``--catalogue-sizes``
# (hours at 1.1 million movies).
CATALOGUE_SIZES = "10000,100000,1100000"
# The whole 1.1M catalogue on three queue workers sharing one 1,000 req/s ceiling, one
# SIGKILLed after five minutes and replaced: about 20 minutes.
FLEET = ("--movies", "1100000", "--rate", "1000", "--workers", "3", "--kill-after-s", "300")


@dataclass(frozen=True)
class Plan:
    """One run's sizes, limits and servers; every section reads its part."""

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
    # The arguments of bench/catalogue.py (the whole catalogue), or none: not run.
    catalogue: tuple[str, ...] = ()
    # The arguments of bench/dlt_peer.py (dlt's REST API source beside the genre crawl).
    peer: tuple[str, ...] = ()
    # The arguments of bench/catalogue_status.py (status alone on a whole day's keys).
    catalogue_status: tuple[str, ...] = ()
    # The arguments of bench/catalogue_fleet.py (the whole catalogue on queue workers).
    catalogue_fleet: tuple[str, ...] = ()


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
            catalogue=(
                "--smoke",
                "--sqs",
                "moto",
                "--worker-s",
                "10",
                "--out",
                str(WORK / "CATALOGUE-smoke.md"),
            ),
            catalogue_status=("--ids", "2000", "--reps", "1"),
            catalogue_fleet=("--smoke", "--sqs", "moto", "--out", str(WORK / "fleet-smoke.json")),
            peer=(
                "--movies",
                "300",
                "--rate",
                "200",
                "--rate-models",
                "bucket",
                "--runs",
                "1",
                "--out",
                str(WORK / "DLT_PEER-smoke.md"),
            ),
        )
    sizes = args.catalogue_sizes or (CATALOGUE_SIZES if args.only_catalogue else "")
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
        catalogue=("--sizes", sizes, "--worker-s", "120") if sizes else (),
        catalogue_status=("--ids", "94954,1045108", "--reps", "3") if sizes else (),
        catalogue_fleet=FLEET if sizes else (),
        peer=("--runs", "2"),
    )
