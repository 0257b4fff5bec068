"""How a command this tool prints names the interpreter and quotes its words, so it runs
as printed from any directory and in any POSIX shell: the run's "next:" line, status's
hints. ``python`` only when that is what the shell finds; otherwise this interpreter's
path (a venv not activated, ``dev.py``'s ``.venv``), which has the package's dependencies."""

from __future__ import annotations

import os
import shlex
import shutil
import sys


def python() -> str:
    """How a pasted command names this interpreter."""
    found = shutil.which("python")
    if found and os.path.abspath(found) == os.path.abspath(sys.executable):
        return "python"
    return shlex.quote(sys.executable)


def status_command(lake: str, date: str) -> str:
    return f"{python()} -m ingest status --lake {shlex.quote(lake)} --date {date}"


def workers_command() -> str:
    return f"{python()} -m workers --queue"
