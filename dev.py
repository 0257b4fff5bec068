#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+.

    python3 dev.py run [ARGS...]   create .venv, install, run the main job (python -m ingest ARGS)
    python3 dev.py test [PYTEST_ARGS...]   create .venv, install with test tools, run every check

``run`` uses the lake of config.toml (``./datalake`` by default). Stage 2 needs TMDB
credentials; when neither TMDB_READ_ACCESS_TOKEN nor TMDB_API_KEY is set, ``run`` serves
stage 2 from the bundled TMDB stand-in (tests/fake_tmdb.py, a synthetic catalog) and
says so, so the whole main job can be tried offline. ``test`` is exactly what CI runs.
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
        [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--editable", target],
        cwd=ROOT,
        check=True,
    )
    stamp.write_text(digest)


def run(args: list[str]) -> int:
    ensure_venv("")
    env = dict(os.environ)
    stand_in = None
    if not (env.get("TMDB_READ_ACCESS_TOKEN") or env.get("TMDB_API_KEY")) and _wants_tmdb(args):
        ensure_venv("test")
        stand_in = subprocess.Popen(
            [str(PY), "-m", "ingest.standin", "--port", "0", "--crime", "600", "--war", "300"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert stand_in.stdout is not None
        line = stand_in.stdout.readline().strip()
        if not line.startswith("serving "):
            stand_in.kill()
            sys.exit("dev.py: the TMDB stand-in did not start")
        url = line.removeprefix("serving ")
        from_tests = subprocess.run(
            [str(PY), "-c", "from ingest.standin import FAKE_TOKEN; print(FAKE_TOKEN)"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        env |= {"TMDB_BASE_URL": url, "TMDB_READ_ACCESS_TOKEN": from_tests}
        say(
            f"no TMDB_READ_ACCESS_TOKEN set: stage 2 reads the bundled TMDB stand-in at {url} "
            "(synthetic movies); export a real token to ingest from TMDB"
        )
    try:
        return subprocess.call([str(PY), "-m", "ingest", *args], cwd=ROOT, env=env)
    finally:
        if stand_in is not None:
            stand_in.terminate()
            stand_in.wait(timeout=10)


def _wants_tmdb(args: list[str]) -> bool:
    """Whether this command reaches stage 2 (the main job does; ``--csv`` alone does not)."""
    selects = {"--csv", "--genre", "--collections"}
    given = {a.split("=", 1)[0] for a in args}
    return not (given & selects) or bool(given & {"--genre", "--collections"})


def test(args: list[str]) -> int:
    ensure_venv("test")
    steps: list[list[str]] = [
        [str(BIN / "ruff"), "check", *(d for d in LINTED if (ROOT / d).exists())],
        [str(BIN / "mypy")],
        # The deploy artifacts (Dockerfile, compose, SAM template) without a Docker engine.
        ["bash", str(ROOT / "scripts" / "check_deploy.sh")],
        # The benchmark at toy sizes, so it cannot rot (it judges no timing).
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke"],
        # Last, so its summary line closes the output.
        [str(PY), "-m", "pytest", *(args or ["-q"])],
    ]
    for step in steps:
        say("$ " + " ".join(Path(step[0]).name if i == 0 else s for i, s in enumerate(step)))
        code = subprocess.call(step, cwd=ROOT)
        if code:
            say(f"failed: {' '.join(step)} (exit {code})")
            return code
    say("all checks passed")
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("run", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    return run(sys.argv[2:]) if sys.argv[1] == "run" else test(sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
