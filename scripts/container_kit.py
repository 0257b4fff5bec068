"""What scripts/container_check.py and scripts/compose_check.py share: podman as this
machine can run it, the machine's needs in one line, HTTP polls and a step printer.

Standard library only: it runs before any virtualenv exists. Podman runs with
``CONTAINERS_CONF`` pointed at a file of the check's own (runc, cgroupfs, no default
ulimits, a file events log), so nothing under /etc/containers is changed: crun refuses
these kernels' hybrid cgroups, the default ulimits exceed the hard limits here, and there
is no systemd to log events to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "container"
# What the check installs with apt-get where missing: the command, then its package.
PACKAGES = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
CONTAINERS_CONF = """\
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
"""


class CheckFailed(Exception):
    """A check found something wrong; the message is one line saying what."""


class MachineLacks(Exception):
    """The machine cannot run the check; the message is one line saying what it needs."""


def needs_line(lacks: Sequence[str]) -> str:
    """The one line that says what the check needs and what this machine lacks."""
    need = (
        "Linux as root with apt-get (it installs podman, runc and debootstrap), "
        "Debian's mirror and PyPI reachable, about 4 GB free"
    )
    return f"dev.py container needs {need}; this machine lacks: {', '.join(lacks)}"


def machine_lacks(*, system: str, is_root: bool, has: Callable[[str], bool], free_bytes: int) -> list[str]:
    """What of the check's needs this machine lacks (empty: it can run)."""
    lacks = []
    if system != "linux":
        lacks.append(f"Linux (this is {system})")
    if not is_root:
        lacks.append("root (run it with sudo)")
    missing = [pkg for cmd, pkg in PACKAGES.items() if not has(cmd)]
    if missing and not has("apt-get"):
        lacks.append(f"apt-get to install {', '.join(missing)} (or install them by hand)")
    if free_bytes < 4 * 10**9:
        lacks.append(f"disk space ({free_bytes / 10**9:.1f} GB free)")
    return lacks


def prepare_machine() -> None:
    """Stop with ``MachineLacks`` where the check cannot run; install what apt-get can."""
    lacks = machine_lacks(
        system=sys.platform,
        is_root=os.geteuid() == 0 if hasattr(os, "geteuid") else False,
        has=lambda cmd: shutil.which(cmd) is not None,
        free_bytes=shutil.disk_usage(ROOT).free,
    )
    if lacks:
        raise MachineLacks(needs_line(lacks))
    missing = [pkg for cmd, pkg in PACKAGES.items() if shutil.which(cmd) is None]
    if missing:
        say(f"installing {' '.join(missing)} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode:
                raise MachineLacks(needs_line([f"`{' '.join(cmd)}` failed: {_last(done)}"]))
    WORK.mkdir(parents=True, exist_ok=True)
    conf = WORK / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    os.environ["CONTAINERS_CONF"] = str(conf)


def _last(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1][-300:] if lines else f"exit {done.returncode}"


def say(text: str) -> None:
    print(f"container: {text}", file=sys.stderr, flush=True)


def step(name: str, detail: str = "") -> None:
    """One line per check that passed (failures are raised, and printed by main)."""
    print(f"ok    {name}" + (f": {detail}" if detail else ""), flush=True)


def podman(*args: str, check: bool = True, timeout: float = 900, input: str | None = None) -> str:
    """Run podman; its stdout. A failure is a ``CheckFailed`` with its last line."""
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, input=input)
    if check and done.returncode:
        raise CheckFailed(f"podman {' '.join(args[:3])}... failed: {_last(done)}")
    return done.stdout


def podman_code(*args: str, timeout: float = 120) -> int:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    return done.returncode


def image_exists(name: str) -> bool:
    return podman_code("image", "exists", name) == 0


def published(container: str, port: int) -> str:
    """``http://127.0.0.1:N``: where the host reaches a container's published ``port``."""
    line = podman("port", container, f"{port}/tcp").strip().splitlines()
    if not line:
        raise CheckFailed(f"{container} publishes no host port for {port}")
    return "http://" + line[0].replace("0.0.0.0", "127.0.0.1")


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """Status and body; a connection error is status 0."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, urllib.error.URLError):
        return 0, b""


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float, every_s: float = 0.1) -> Any:
    """Call ``probe`` until it returns something true; that value, or ``CheckFailed``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(every_s)
    raise CheckFailed(f"{what}: not within {timeout_s:.0f} s")


def logs(container: str) -> str:
    done = subprocess.run(["podman", "logs", container], capture_output=True, text=True)
    return done.stdout + done.stderr


def ready_line(container: str) -> dict[str, Any]:
    """The TMDB stand-in's JSON ready line, from its container's output."""
    for line in logs(container).splitlines():
        if line.startswith("{") and '"standin_ready"' in line:
            found: dict[str, Any] = json.loads(line)
            return found
    return {}
