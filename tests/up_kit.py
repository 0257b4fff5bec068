"""``python3 dev.py up --moto`` as a test runs it: on free ports, in the tests' own
virtualenv (``DEV_PY_VENV``: nothing is installed), its exports read from its stdout."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import clean_env

ROOT = Path(__file__).resolve().parent.parent
UP_EXPORTS = frozenset({
    "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
    "INGEST_LAKE", "INGEST_QUEUE_URL", "TMDB_BASE_URL", "TMDB_READ_ACCESS_TOKEN",
})  # fmt: skip


@dataclass
class Up:
    proc: subprocess.Popen[str]
    exports: dict[str, str]
    # Its stderr, once it has stopped.
    err: str = ""


def up_env() -> dict[str, str]:
    """The kit's ``clean_env()`` without AWS settings either (dev.py up exports its own),
    in this virtualenv."""
    return {k: v for k, v in clean_env(DEV_PY_VENV=sys.prefix).items() if not k.startswith("AWS_")}


def _exports(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    found: dict[str, str] = {}
    while len(found) < len(UP_EXPORTS):
        line = proc.stdout.readline()
        assert line, f"dev.py up ended before its exports: {proc.communicate(timeout=30)[1]}"
        name, _, value = line.strip().removeprefix("export ").partition("=")
        found[name] = value
    return found


@contextmanager
def dev_up_moto(*, moto: bool = True) -> Iterator[Up]:
    """Run ``dev.py up --moto`` (or, ``moto=False``, with LocalStack) for the block; SIGINT
    it after (``.err``, ``.proc.returncode``)."""
    which = ["--moto"] if moto else []
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), "up", *which, "--aws-port", "0", "--tmdb-port", "0"],
        cwd=ROOT, env=up_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    up = Up(proc, {})
    try:
        up.exports = _exports(proc)
        yield up
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            up.err = proc.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            up.err = proc.communicate()[1]
