"""Helpers for the TMDB tests: a fake TMDB on a random port, settings that point at it,
and readers that take back what the pipeline wrote to the lake."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from ingest.lake import Lake
from ingest.lake.keys import Kind, tmdb_prefix
from ingest.remote.retry import Backoff
from ingest.settings.config import Job, Settings, TmdbSettings
from ingest.settings.genres import resolve_genre
from ingest.standin import STANDIN_TOKEN
from ingest.tmdb.client import ClientTuning

DATE = dt.date(2026, 11, 28)
# Retries in milliseconds, not seconds: the fake's faults are many and the suite is short.
FAST = ClientTuning(Backoff(base_s=0.005, cap_s=0.05, hint_cap_s=0.02))


def settings_for(
    base_url: str,
    lake: str,
    *,
    genres: Iterable[str | int] = ("war",),
    movies: bool = True,
    collections: bool = False,
    limit: int | None = None,
    token: str | None = STANDIN_TOKEN,
    api_key: str | None = None,
    rate_per_s: float = 1000.0,
    concurrency: int = 8,
    read_timeout_s: float = 2.0,
    max_attempts: int = 8,
    date: dt.date = DATE,
    request_timeout_s: float = 30.0,
    batch_budget_s: float = 300.0,
) -> Settings:
    return Settings(
        lake=lake,
        date=date,
        job=Job(
            genres=tuple(resolve_genre(g) for g in genres),
            movies=movies,
            collections=collections,
            limit=limit,
        ),
        tmdb=TmdbSettings(
            base_url=base_url,
            token=token,
            api_key=api_key,
            rate_per_s=rate_per_s,
            concurrency=concurrency,
            connect_timeout_s=1.0,
            read_timeout_s=read_timeout_s,
            max_attempts=max_attempts,
            request_timeout_s=request_timeout_s,
            batch_budget_s=batch_budget_s,
        ),
    )


async def lake_files(lake: Lake, kind: Kind, genre: str, date: dt.date = DATE) -> dict[str, bytes]:
    """Key -> bytes of every file of one genre's movies or collections for ``date``."""
    prefix = f"{tmdb_prefix(kind, date)}{genre}-"
    out = {}
    for key in await lake.list(prefix):
        data = await lake.read(key)
        assert data is not None
        out[key] = data
    return out


def records(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for data in files.values() for line in data.splitlines()]


def dir_records(root: Path, kind: Kind, genre: str, date: dt.date = DATE) -> list[dict[str, Any]]:
    """The same as ``records(lake_files(...))`` for a directory lake, synchronously."""
    folder = root / tmdb_prefix(kind, date)
    return [
        orjson.loads(line)
        for path in sorted(folder.glob(f"{genre}-*.json"))
        for line in path.read_bytes().splitlines()
    ]
