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

from ingest.settings.table import flagged
from ingest.standin import STANDIN_TOKEN

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without its TMDB_/INGEST_ settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMDB_", "INGEST_"))}
    return env | extra


def standin_env(url: str, token: str = STANDIN_TOKEN, **extra: str) -> dict[str, str]:
    """``clean_env(**extra)`` pointed at a TMDB stand-in at ``url``, with its token: where a
    test's process gets TMDB's address and secret."""
    return clean_env(TMDB_BASE_URL=url, TMDB_READ_ACCESS_TOKEN=token, **extra)


def cli_command(*args: str, module: str = "ingest", code: str | None = None) -> list[str]:
    """``python -m <module> ARGS`` (or ``python -c <code> ARGS``) with this interpreter."""
    return [sys.executable, *(["-c", code] if code else ["-m", module]), *args]


def cli_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A child's environment: ``env`` (``clean_env()`` by default) with this tree on
    PYTHONPATH and output unbuffered, so a log file is read as it is written."""
    return {**(clean_env() if env is None else env), "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


async def start_cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    module: str = "ingest",
    code: str | None = None,
    stdout: Any = asyncio.subprocess.PIPE,
    stderr: Any = asyncio.subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """``cli_command(ARGS)`` started as a real process in ``cwd``, in ``cli_env(env)``."""
    return await asyncio.create_subprocess_exec(
        *cli_command(*args, module=module, code=code),
        cwd=cwd,
        env=cli_env(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
    )


def popen_cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    module: str = "ingest",
    stdout: Any = subprocess.DEVNULL,
    stderr: Any = subprocess.PIPE,
) -> subprocess.Popen[str]:
    """``start_cli``'s face for a sync test that probes a long-lived process (a service)
    with blocking calls: the same command and environment, as a ``Popen``."""
    return subprocess.Popen(
        cli_command(*args, module=module),
        cwd=cwd,
        env=cli_env(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        text=True,
    )


async def run_cli(
    *args: str, cwd: Path, timeout_s: float = 120, **how: Any
) -> subprocess.CompletedProcess[str]:
    """``start_cli(ARGS, **how)`` run to its end: exit code, stdout, stderr. Async, so a
    stand-in this test's loop serves keeps answering; a sync test calls
    ``asyncio.run(run_cli(...))``."""
    proc = await start_cli(*args, cwd=cwd, **how)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
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


async def kill_once(proc: asyncio.subprocess.Process, probe: Callable[[], Any], what: str) -> None:
    """``kill -9`` a run once ``probe`` (plain or async) comes true: a crash in the middle
    of the work, not before or after it."""

    def alive_and_probed() -> Any:
        assert proc.returncode is None, f"the run ended before {what}"
        return probe()

    try:
        await eventually(alive_and_probed, what)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    assert proc.returncode == -9, "the run ended before it could be killed"


async def kill_once_written(proc: asyncio.subprocess.Process, folder: Path, pattern: str, files: int) -> int:
    """``kill_once`` ``folder`` holds ``files`` files matching ``pattern``; return how many
    such files the run left behind."""
    await kill_once(proc, lambda: _count(folder, pattern) >= files, f"{files} files {pattern}")
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
