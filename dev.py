#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+.

    python3 dev.py run [ARGS...]   create .venv, install, run the main job (python -m ingest ARGS)
    python3 dev.py test [PYTEST_ARGS...]   create .venv, install with test tools, run every check
    python3 dev.py container [--no-compose]   as root: build the image with podman and check it
        (and docker-compose.yml) as a user would; installs podman (scripts/container_check.py)

``run`` uses the lake of config.toml (``./datalake`` by default). Stage 2 needs TMDB
credentials; when neither TMDB_READ_ACCESS_TOKEN nor TMDB_API_KEY is set, ``run`` serves
stage 2 from the bundled TMDB stand-in (``python -m ingest.standin``, a synthetic
catalogue) and says so in one line, so the whole main job can be tried offline.
``test`` is exactly what CI runs; it needs nothing but Python (pip installs the rest into
.venv/ and bench/.venv/, and LocalStack into .venv-localstack/ on a Python 3.13 found by
``scripts/localstack.py``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
LINTED = ("ingest", "workers", "tests", "bench", "scripts", "dev.py")


def say(text: str) -> None:
    print(f"dev.py: {text}", file=sys.stderr, flush=True)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project; reinstall only when pyproject.toml changes."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py is run by whatever python3 is there
        found = ".".join(map(str, sys.version_info[:2]))
        sys.exit(f"dev.py: Python 3.11 or later is needed (found {found})")
    if not PY.exists():
        say(f"creating {VENV.name}/")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    target = f".[{extras}]" if extras else "."
    say(f"installing {target} into {VENV.name}/ (first time only)")
    subprocess.run(
        # -qq: errors only; pip's warnings about this machine's own index settings are not ours.
        [str(PY), "-m", "pip", "install", "-qq", "--disable-pip-version-check", "--editable", target],
        cwd=ROOT,
        check=True,
    )
    stamp.write_text(digest)


def run(args: list[str]) -> int:
    ensure_venv("")
    command = [str(PY), "-m", "ingest", *args]
    env = dict(os.environ)
    if env.get("TMDB_READ_ACCESS_TOKEN") or env.get("TMDB_API_KEY") or not _wants_tmdb(args):
        return subprocess.call(command, cwd=ROOT, env=env)
    # The stand-in's process helper is standard library only: this interpreter can import it.
    sys.path.insert(0, str(ROOT))
    from ingest.standin.process import standin_process

    with standin_process("--crime", "600", "--war", "300", python=PY) as standin:
        env |= {"TMDB_BASE_URL": standin.url, "TMDB_READ_ACCESS_TOKEN": standin.token}
        say(
            f"TMDB stand-in: no TMDB token set, so stage 2 reads a synthetic catalogue served "
            f"at {standin.url}; export TMDB_READ_ACCESS_TOKEN to ingest from TMDB"
        )
        return subprocess.call(command, cwd=ROOT, env=env)


def _wants_tmdb(args: list[str]) -> bool:
    """Whether this command reaches TMDB: the main job does; ``--csv`` alone, ``status``
    and ``--help`` do not."""
    if {"-h", "--help"} & set(args) or args[:1] == ["status"]:
        return False
    selects = {"--csv", "--genre", "--collections"}
    given = {a.split("=", 1)[0] for a in args}
    return not (given & selects) or bool(given & {"--genre", "--collections"})


def test(args: list[str]) -> int:
    ensure_venv("test")
    linted = [d for d in LINTED if (ROOT / d).exists()]
    steps: list[list[str]] = [
        [str(BIN / "ruff"), "check", *linted],
        [str(BIN / "ruff"), "format", "--check", *linted],
        # What it checks is [tool.mypy] files in pyproject.toml.
        [str(BIN / "mypy")],
        # The deploy artifacts' linters (SAM template and its state machine, Dockerfile,
        # compose file), no Docker engine; tests/test_deploy.py runs what they run.
        [str(PY), str(ROOT / "scripts" / "check_deploy.py")],
        # The benchmark at toy sizes, so it cannot rot (it judges no timing).
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke"],
        # Last, so its summary line closes the output.
        [str(PY), "-m", "pytest", *(args or ["-q"])],
    ]
    for step in steps:
        if step[1:3] == ["-m", "pytest"]:
            ensure_localstack()
        say("$ " + " ".join(Path(step[0]).name if i == 0 else s for i, s in enumerate(step)))
        code = subprocess.call(step, cwd=ROOT)
        if code:
            say(f"failed: {' '.join(step)} (exit {code})")
            return code
    say("all checks passed")
    return 0


def ensure_localstack() -> None:
    """Set up LocalStack's own virtualenv for the tests that run against it (minutes, the
    first time only); where it cannot be, those tests skip, saying why."""
    from scripts.localstack import DEFAULT_VENV, LocalStackUnavailable, ensure_venv

    if not (DEFAULT_VENV / "bin" / "python").exists():
        say(f"installing LocalStack into {DEFAULT_VENV.name}/ (first time only, a few minutes)")
    try:
        ensure_venv(DEFAULT_VENV)
    except LocalStackUnavailable as exc:
        say(f"LocalStack tests will be skipped: {exc}")


def main() -> int:
    if sys.argv[1:2] == ["container"]:
        # Standard library only, no .venv: it installs system packages, so not part of `test`.
        from scripts.container_check import main as container

        return container(sys.argv[2:])
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    return run(sys.argv[2:]) if sys.argv[1] == "run" else test(sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
