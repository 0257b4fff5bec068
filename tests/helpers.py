"""Small stand-ins shared by the tests (the TMDB stand-in itself is ``ingest.standin``)."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

import boto3

from ingest.settings_table import flagged

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without its TMDB_/INGEST_ settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMDB_", "INGEST_"))}
    return env | extra


async def start_cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    module: str = "ingest",
    code: str | None = None,
    stdout: Any = asyncio.subprocess.PIPE,
    stderr: Any = asyncio.subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """``python -m <module> ARGS`` (or ``python -c <code> ARGS``) started as a real process;
    ``env`` defaults to ``clean_env()``, and this tree is always on PYTHONPATH."""
    head = ["-c", code] if code else ["-m", module]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *head,
        *args,
        cwd=cwd,
        env={**(clean_env() if env is None else env), "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
    )


async def run_cli(
    *args: str, cwd: Path, timeout_s: float = 120, **how: Any
) -> subprocess.CompletedProcess[str]:
    """``start_cli(ARGS, **how)`` run to its end: exit code, stdout, stderr. Async, so a
    stand-in this test's loop serves keeps answering; a sync test calls
    ``asyncio.run(run_cli(...))``."""
    proc = await start_cli(*args, cwd=cwd, **how)
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | None]], what: str, *, within_s: float = ..., every_s: float = ...
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T | None], what: str, *, within_s: float = ..., every_s: float = ...
) -> T: ...


async def eventually(
    probe: Callable[[], Any], what: str, *, within_s: float = 60.0, every_s: float = 0.01
) -> Any:
    """Poll ``probe`` (plain or async) until it returns something true, and return that.

    A probe raising ``OSError`` (a port not open yet) has not come true yet; one raising
    ``AssertionError`` (the process died) ends the wait. ``within_s`` is a bound on a
    hung test, not a timed assertion: a slow machine only makes the wait longer. Sync
    tests call it as ``asyncio.run(eventually(...))``.
    """
    deadline = time.monotonic() + within_s
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except OSError:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every_s)


def flags(**said: Any) -> dict[str, Any]:
    """What a command line says, by its flags' attributes (``lake=...``, ``genres=(...)``),
    as ``load_settings`` takes it: setting name -> raw value."""
    return flagged(argparse.Namespace(**said))


class LambdaContext:
    """Lambda's context, as far as the handler uses it: a clock that runs out."""

    def __init__(self, budget_s: float) -> None:
        self.deadline = time.monotonic() + budget_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


async def kill_once_written(proc: asyncio.subprocess.Process, folder: Path, pattern: str, files: int) -> int:
    """``kill -9`` a run once ``folder`` holds ``files`` files matching ``pattern``: a crash
    in the middle of the work, not before or after it. Return how many such files the run
    left behind."""
    try:
        await eventually(lambda: _count(folder, pattern) >= files, f"{files} files {pattern}")
    finally:
        proc.kill()
        await proc.wait()
    assert proc.returncode == -9, "the run ended before it could be killed"
    return _count(folder, pattern)


def _count(folder: Path, pattern: str) -> int:
    # A few directory entries, polled: not worth a thread hop.
    return len(list(folder.glob(pattern)))


def delete_from_lake(lake_url: str, key: str) -> None:
    """Take one object out of a lake (a directory, or S3 at ``AWS_ENDPOINT_URL``), as a
    kill mid-write or a hand would leave it."""
    if lake_url.startswith("s3://"):
        client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
        client.delete_object(Bucket=lake_url.removeprefix("s3://"), Key=key)
    else:
        (Path(lake_url) / key).unlink()
