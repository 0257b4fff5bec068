"""Start ``python -m ingest.standin`` as a process and wait for its ready line.

The one way dev.py, the benchmark and the tests run the stand-in out of process. Standard
library only, so that any Python 3.11 can import it (dev.py runs before the project's
virtualenv exists; the benchmark runs under its own)::

    with standin_process("--war", "300", "--latency-ms", "20") as standin:
        env = {"TMDB_BASE_URL": standin.url, "TMDB_READ_ACCESS_TOKEN": standin.token}
        ...
        standin.stats()["requests"]

The command prints one line on stdout once it serves, a JSON object whose ``event`` is
``standin_ready`` (``url``, ``token``, ``day``, ``date``, ``movies``, ``collections``,
``series``); nothing
before it, and its counters as one JSON line when it stops.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ingest.standin.constants import STANDIN_API_KEY, STANDIN_TOKEN

READY_EVENT = "standin_ready"
_ROOT = Path(__file__).resolve().parents[2]


class StandinFailed(RuntimeError):
    """The stand-in's process exited, or said something else, before its ready line."""


@dataclass(frozen=True)
class StandinProcess:
    """A running stand-in process: where it serves and what a client sends it."""

    url: str
    ready: Mapping[str, Any]
    proc: subprocess.Popen[str]
    token: str = STANDIN_TOKEN
    api_key: str = STANDIN_API_KEY

    def stats(self) -> dict[str, Any]:
        """Its counters, from ``/__stats``."""
        with urllib.request.urlopen(self.url + "/__stats", timeout=10) as resp:
            stats: dict[str, Any] = json.loads(resp.read())
        return stats

    def set_day(self, day: int, timeout_s: float = 30) -> dict[str, Any]:
        """Move its clock: it serves the catalogue as it is on ``day`` (a whole catalogue
        of a million movies takes minutes to move)."""
        request = urllib.request.Request(f"{self.url}/__day?day={day}", method="POST")
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
        return answer


def standin_command(*args: str, python: str | os.PathLike[str] = sys.executable) -> list[str]:
    """The command line of a stand-in on a free port (``args`` may name another)."""
    return [os.fspath(python), "-m", "ingest.standin", "--port", "0", *args]


@contextmanager
def standin_process(
    *args: str,
    python: str | os.PathLike[str] = sys.executable,
    env: Mapping[str, str] | None = None,
    stderr: IO[Any] | int | None = subprocess.DEVNULL,
) -> Iterator[StandinProcess]:
    """Run the stand-in (``python -m ingest.standin --port 0 ARGS``) for the block.

    ``python`` is the interpreter that has the project installed; the process runs from
    the repository root, so the source tree is importable even where it is not installed.
    Stopped with SIGTERM (by its own pid) when the block ends."""
    run_env = dict(os.environ if env is None else env)
    run_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), run_env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        standin_command(*args, python=python),
        cwd=_ROOT,
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        ready = _ready_line(proc)
        token = str(ready.get("token") or STANDIN_TOKEN)
        yield StandinProcess(url=str(ready["url"]), ready=ready, proc=proc, token=token)
    finally:
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def _ready_line(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        ready: dict[str, Any] = json.loads(line)
    except ValueError:
        ready = {}
    if ready.get("event") != READY_EVENT:
        code = proc.poll()
        status = "is running" if code is None else f"exited {code}"
        raise StandinFailed(f"the TMDB stand-in {status} without its ready line (got {line.strip()[:200]!r})")
    return ready


def stop_process(proc: subprocess.Popen[Any], grace_s: float = 10) -> None:
    """SIGTERM ``proc``, then SIGKILL it if it has not ended within ``grace_s``: a server
    left behind would hold its ports."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now, for a server that cannot bind port 0 itself."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
