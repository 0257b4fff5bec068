"""Run one measured command, and the servers the runs talk to.

``measure`` starts a command in its own process, samples the resident memory of its
whole process tree (psutil, every 10 ms) and also reads the kernel's own high-water
mark for it (``wait4`` rusage: the largest single process of the tree). Peak RSS is
the larger of the two, so a runner that forks workers is charged for all of them, and
a spike shorter than the sampling interval is still seen by the kernel's figure.

``run_sampled`` is the standard library's version, for ``catalogue.py`` (which runs with
the project's interpreter, where psutil is not installed): one process's wall time, the
kernel's peak RSS, its RSS sampled every half second, and an optional SIGTERM cut. psutil
is imported only where ``measure`` and ``kill_tree`` use it, for the same reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap import PROJECT_VENV, ROOT, venv_python

from ingest.standin import free_port, stop_process

if TYPE_CHECKING:
    import psutil

PROJECT_PY = str(venv_python(PROJECT_VENV))
WRAP = Path(__file__).resolve().parent / "rusage_wrap.py"
BENCH_PY = sys.executable


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_bytes: int
    returncode: int
    log: Path
    # User + system CPU seconds of the command and every child it waited for (wait4).
    cpu_s: float = 0.0


class RunFailed(RuntimeError):
    pass


def _tree_rss(proc: psutil.Process) -> int:
    """RSS of everything under ``proc`` (the wrapper), not the wrapper itself. A child
    whose command line is its parent's is a fork that has not exec'd yet (Python's
    subprocess vforks): it shows its parent's pages, which are not there twice, so it is
    not added (a sample in that window once read 162 MiB for a 112 MiB tree)."""
    import psutil

    total = 0
    try:
        procs = proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            parent = p.parent()
            if parent is not None and parent.pid != proc.pid and p.cmdline() == parent.cmdline():
                continue
            total += p.memory_info().rss
    return total


def measure(
    cmd: list[str], *, env: dict[str, str], log: Path, cwd: Path = ROOT, timeout_s: float = 3600
) -> Measured:
    """Run ``cmd`` to completion; output goes to ``log``. Raises RunFailed on non-zero exit."""
    import psutil

    log.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    done = threading.Event()
    rfile = log.resolve().with_suffix(".rusage.json")
    wrapped = [BENCH_PY, "-I", "-S", str(WRAP), str(rfile), "--", *cmd]
    with log.open("wb") as out:
        t0 = time.perf_counter()
        popen = subprocess.Popen(wrapped, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        ps = psutil.Process(popen.pid)

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _tree_rss(ps))
                done.wait(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            popen.wait(timeout_s)
        except BaseException:  # timeout, Ctrl-C, SIGTERM: leave no runner behind
            kill_tree(ps)
            popen.wait()
            done.set()
            raise
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
    kernel_peak = 0
    cpu_s = 0.0
    with contextlib.suppress(OSError, ValueError, KeyError):
        usage = json.loads(rfile.read_text())
        kernel_peak = usage["ru_maxrss_kib"] * 1024
        cpu_s = float(usage["cpu_s"])
    m = Measured(seconds, max(peak, kernel_peak), popen.returncode, log, cpu_s)
    if popen.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RunFailed(f"{cmd[:4]} exited {popen.returncode}; log {log}:\n{tail}")
    return m


@dataclass
class Sampled:
    seconds: float
    peak_rss_mib: float
    returncode: int
    log: Path
    # (seconds since start, RSS MiB), every half second.
    rss: list[tuple[float, float]] = field(default_factory=list)
    # User + system CPU of the process and every child it waited for (``wait4``).
    cpu_s: float = 0.0

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and event.get("event") == name:
                    found.append(event)
        return found


def rss_mib(pid: int) -> float:
    """The process's resident set now, in MiB (0 once it is gone)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_sampled(
    cmd: list[str], env: dict[str, str], log: Path, stop_after_s: float | None = None, cwd: Path = ROOT
) -> Sampled:
    """Run ``cmd`` (one process) in ``cwd``; its wall time, the kernel's peak RSS, RSS samples."""
    samples: list[tuple[float, float]] = []
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                samples.append((round(time.perf_counter() - t0, 1), round(rss_mib(proc.pid), 1)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = None
        if stop_after_s is not None:
            timer = threading.Timer(stop_after_s, proc.send_signal, (signal.SIGTERM,))
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        done.set()
        if timer is not None:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    cpu_s = usage.ru_utime + usage.ru_stime
    return Sampled(seconds, usage.ru_maxrss / 1024, proc.returncode, log, samples, cpu_s)


def kill_tree(proc: psutil.Process) -> None:
    """Kill ``proc`` and everything it started (by pid, children first)."""
    import psutil

    with contextlib.suppress(psutil.Error):
        for child in reversed(proc.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                child.kill()
        proc.kill()


def wait_http(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def server(
    cmd: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process for the duration of the block; killed (by its pid) afterwards."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        p = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env or dict(os.environ))
        try:
            wait_http(ready_url)
            if p.poll() is not None:
                raise RunFailed(f"server {cmd} exited {p.returncode}; see {log}")
            yield p
        finally:
            stop_process(p)


@contextlib.contextmanager
def moto_server(log: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [PROJECT_PY, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with server(cmd, url + "/moto-api/", log):
        yield url
