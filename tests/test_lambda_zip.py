"""The Lambda zip, unpacked and imported by an interpreter that sees nothing else.

``python -I -S`` ignores the environment, the user's and the system's site-packages and
the working directory; the only other path it gets is the unpacked zip, as in Lambda's
/var/task. So a module the zip forgot (what broke the seed's layer) fails here, and the
last test proves it by taking one out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The base interpreter, not the virtualenv's: nothing of the venv can leak in.
_BASE = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
PYTHON = str(_BASE) if _BASE.exists() else sys.executable

# Every module the handler's code path can import, lazily or not, and the compiled
# extensions of its dependencies (the manylinux wheels must load on x86_64 Linux).
CHECK = r"""
import importlib, json, pkgutil, sys
root = sys.argv[1]
sys.path.insert(0, root)
import ingest, ingest.aws_lambda as m
assert callable(m.handler)
for info in pkgutil.walk_packages(ingest.__path__, "ingest."):
    if not info.name.endswith(".__main__"):  # an entry point: importing it runs the CLI
        importlib.import_module(info.name)
for name in [
    "aiohttp", "aiohttp._http_parser", "multidict._multidict", "yarl._quoting_c",
    "frozenlist._frozenlist", "propcache._helpers_c", "orjson", "structlog",
    "aioboto3", "aiobotocore.session", "botocore.session", "boto3",
]:
    importlib.import_module(name)
outside = sorted(
    mod.__name__ for mod in list(sys.modules.values())
    if getattr(mod, "__file__", None) and not mod.__file__.startswith((root, sys.base_prefix))
)
print(json.dumps({"outside": outside}))
"""


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the zip with the project's one command (about 25 s), then unpack it.

    The building interpreter also sees a package that pins another botocore, as awscli
    does where it shares an environment: what the zip holds never meets it, so a
    successful build must not print pip's ERROR about that conflict."""
    out = tmp_path_factory.mktemp("zip") / "lambda.zip"
    pinned = tmp_path_factory.mktemp("site") / "pinsbotocore-1.0.dist-info"
    pinned.mkdir()
    (pinned / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pinsbotocore\nVersion: 1.0\nRequires-Dist: botocore==1.0.0\n"
    )
    env = dict(os.environ, PYTHONPATH=str(pinned.parent))
    built = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "build_lambda_zip.py"),
            "--out",
            str(out),
            "--cache-dir",
            str(ROOT / "build" / "pip-cache"),
        ],
        check=True,
        timeout=600,
        env=env,
        capture_output=True,
        text=True,
    )
    assert [line for line in built.stderr.splitlines() if line.startswith("ERROR")] == []
    assert "wrote" in built.stderr + built.stdout
    target = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(out) as zf:
        zf.extractall(target)
    return target


def _check(task_root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-I", "-S", "-c", CHECK, str(task_root)],
        cwd=task_root,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_handler_imports_from_the_zip_alone(unpacked: Path) -> None:
    result = _check(unpacked)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["outside"] == []


def test_zip_holds_config_and_no_stray_files(unpacked: Path) -> None:
    assert (unpacked / "config.toml").is_file()
    names = {p.name for p in unpacked.iterdir()}
    assert not names & {"tests", "workers", ".env", "datalake", "data", "bin"}
    # The answers' charts need the answers extra, which the function has not.
    assert not (unpacked / "ingest" / "answers").exists()
    # Precompiled for python3.11, so a read-only /var/task costs no compile at cold start.
    assert list((unpacked / "ingest").glob("__pycache__/aws_lambda.cpython-311.pyc"))


def test_bad_event_fails_clearly_inside_the_zip(unpacked: Path) -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from ingest.aws_lambda import handler\n"
        "class C:\n def get_remaining_time_in_millis(self): return 900000\n"
        "handler({'tipo': 'comedia'}, C())"
    )
    result = subprocess.run(
        [PYTHON, "-I", "-S", "-c", code, str(unpacked)],
        cwd=unpacked,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "ConfigError: unknown tipo 'comedia'" in result.stderr


def test_a_missing_module_fails_the_check(unpacked: Path, tmp_path: Path) -> None:
    broken = tmp_path / "task"
    shutil.copytree(unpacked, broken)
    shutil.rmtree(broken / "multidict")
    result = _check(broken)
    assert result.returncode != 0
    assert "No module named 'multidict'" in result.stderr
