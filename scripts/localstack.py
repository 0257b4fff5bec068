"""LocalStack 4.14.0 (what docker-compose.yml runs) without Docker: its own virtualenv on
Python 3.13, and a server on a free loopback port for as long as a ``with`` lasts.

    ensure_venv(path)   create or reuse the virtualenv; reinstall only when PINS change
    serve(path, port)   start S3, SQS and STS in it; yield the endpoint; stop it after

``python scripts/localstack.py [--port N]`` does both by hand (``--help`` says what it
installs) and prints the endpoint and the settings a client needs.

Standard library only: ``dev.py test`` calls ``ensure_venv`` before pytest (it needs no
more than Python), and the tests' session fixture calls ``serve``. Python 3.13 is found
as ``$LOCALSTACK_PYTHON``, then ``pyenv prefix 3.13.0``, then ``python3.13`` on PATH.
Every failure is a ``LocalStackUnavailable`` whose message is one line saying why.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as ``python scripts/localstack.py``
    sys.path.insert(0, str(ROOT))

from ingest.standin.process import free_port, stop_process  # noqa: E402  (standard library only)

# $LOCALSTACK_VENV, else here (ignored by git like .venv/).
DEFAULT_VENV = Path(os.environ.get("LOCALSTACK_VENV") or ROOT / ".venv-localstack")
# LocalStack's own pins, and the versions of its dependencies that work with it on 3.13.
PINS = (
    "localstack-core[runtime]==4.14.0",
    "service_identity",
    "cryptography==43.0.3",
    "pyopenssl==24.2.1",
    "cbor2==5.6.5",
    "joserfc<1.1",
)
READY_S = 120.0
# What the first install brings, for the line that says so (measured on Linux x86_64).
WHAT = (
    f"LocalStack 4.14.0 into {DEFAULT_VENV.name}/ on Python 3.13 "
    "(first time only: about 500 MB, a few minutes)"
)


class LocalStackUnavailable(Exception):
    """LocalStack cannot be installed or started here; the message is one line."""


def _python313() -> str:
    named = os.environ.get("LOCALSTACK_PYTHON")
    if named:
        if not shutil.which(named):
            raise LocalStackUnavailable(f"LOCALSTACK_PYTHON={named} is not a Python here")
        return named
    pyenv = shutil.which("pyenv")
    if pyenv:
        found = subprocess.run([pyenv, "prefix", "3.13.0"], capture_output=True, text=True, check=False)
        candidate = Path(found.stdout.strip()) / "bin" / "python3.13"
        if found.returncode == 0 and candidate.exists():
            return str(candidate)
    plain = shutil.which("python3.13")
    if plain:
        return plain
    raise LocalStackUnavailable("no Python 3.13 (set LOCALSTACK_PYTHON, or install 3.13.0 with pyenv)")


def _python(path: Path) -> Path:
    return path / "bin" / "python"


def _stamp(path: Path) -> Path:
    return path / ".installed-pins"


def installed(path: Path = DEFAULT_VENV) -> bool:
    """Whether the virtualenv at ``path`` holds exactly ``PINS`` (no install needed)."""
    return _stamp(path).exists() and _stamp(path).read_text() == _digest() and _python(path).exists()


def _digest() -> str:
    return hashlib.sha256("\n".join(PINS).encode()).hexdigest()


def ensure_venv(path: Path = DEFAULT_VENV) -> Path:
    """Create the virtualenv at ``path`` (or reuse it) with ``PINS`` installed; its python."""
    if installed(path):
        return _python(path)
    if not _python(path).exists():
        made = subprocess.run([_python313(), "-m", "venv", str(path)], capture_output=True, text=True)
        if made.returncode:
            raise LocalStackUnavailable(f"cannot create {path}: {made.stderr.strip()[-200:]}")
    pip = [str(_python(path)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise LocalStackUnavailable(f"cannot install LocalStack into {path}: {last}")
    _stamp(path).write_text(_digest())
    return _python(path)


@contextlib.contextmanager
def serve(path: Path = DEFAULT_VENV, port: int = 0) -> Iterator[str]:
    """Run LocalStack (S3, SQS, STS) from the virtualenv at ``path`` on loopback ``port``
    (0: a free one); yield its endpoint."""
    python = _python(path)
    if not python.exists():
        raise LocalStackUnavailable(f"no LocalStack virtualenv at {path}: run `python3 dev.py test` once")
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="localstack-") as volume:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALSTACK_"))}
        env |= {
            "SERVICES": "s3,sqs,sts",
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "LOCALSTACK_VOLUME_DIR": volume,
            "SQS_ENDPOINT_STRATEGY": "path",
            # Queue URLs on the endpoint itself, not on localhost.localstack.cloud (DNS).
            "LOCALSTACK_HOST": f"127.0.0.1:{port}",
            "PYTHONUNBUFFERED": "1",
        }
        proc = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_ready(proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop_process(proc, grace_s=30)


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    """Read its output until ``Ready.``; keep draining it after, so it never blocks on a pipe."""
    ready = threading.Event()
    tail: list[str] = []

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail[:] = [*tail[-20:], line.rstrip()]
            if line.strip() == "Ready.":
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(READY_S) or proc.poll() is not None:
        proc.kill()
        last = next((t for t in reversed(tail) if t.strip()), "no output")
        raise LocalStackUnavailable(f"LocalStack did not start: {last[-200:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/localstack.py",
        description=(
            f"Serve LocalStack (S3, SQS, STS) without Docker until Ctrl-C. The first run installs {WHAT}; "
            "set LOCALSTACK_VENV to put it elsewhere and LOCALSTACK_PYTHON to name the Python 3.13. "
            "python3 dev.py up also makes the bucket and the queue."
        ),
    )
    parser.add_argument(
        "--port", type=int, default=4566, help="loopback port (default %(default)s; 0: any free)"
    )
    args = parser.parse_args(argv)
    try:
        if not installed():
            print(f"localstack: installing {WHAT}", file=sys.stderr, flush=True)
        ensure_venv()
        with serve(port=args.port) as endpoint:
            print(endpoint, flush=True)
            print(
                f"localstack: serving at {endpoint}; clients need AWS_ENDPOINT_URL={endpoint}, any "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (test/test) and AWS_DEFAULT_REGION=us-east-1",
                file=sys.stderr,
                flush=True,
            )
            threading.Event().wait()
    except LocalStackUnavailable as exc:
        print(f"localstack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
