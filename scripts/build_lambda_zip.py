#!/usr/bin/env python3
"""Build the Lambda deployment zip: ``python scripts/build_lambda_zip.py`` -> ``build/lambda.zip``.

The zip holds, at its root, the ``ingest`` package, ``config.toml`` (the defaults an
event leaves out) and every runtime dependency in ``pyproject.toml``, installed by pip as
CPython 3.11 x86_64 manylinux wheels whatever machine builds it: the function's runtime
is ``python3.11`` on x86_64 (template.yaml). Nothing is taken from the Lambda runtime's
own boto3: aioboto3 pins the botocore it works with, so the zip ships its own.

Modules are precompiled (unchecked-hash .pyc) when the building interpreter is the
target version, because /var/task is read-only and Lambda would otherwise compile on
every cold start. The archive is deterministic (sorted entries, fixed timestamps), so an
unchanged tree gives an identical zip and ``sam deploy`` sees no change.
"""

from __future__ import annotations

import argparse
import compileall
import os
import py_compile
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = "manylinux2014_x86_64"
# Lambda's limits for a zip uploaded through S3: 250 MB unzipped. Direct upload: 50 MB zipped.
MAX_UNZIPPED = 250 * 1000 * 1000
MAX_ZIPPED = 50 * 1000 * 1000
# Not needed at run time, and some of it is large.
_PRUNE_DIRS = {"__pycache__", "tests", "bin"}
_EPOCH = (1980, 1, 1, 0, 0, 0)


def dependencies() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def install(target: Path, python_version: str, cache_dir: Path) -> None:
    cmd = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile",
        # pip holds what it installs against the building interpreter's packages (say, an
        # awscli pinning another botocore) and prints an ERROR for a conflict the zip,
        # which never meets them, does not have.
        "--no-warn-conflicts",
        "--target", str(target),
        "--platform", PLATFORM,
        "--implementation", "cp",
        "--python-version", python_version,
        "--abi", f"cp{python_version.replace('.', '')}",
        "--only-binary=:all:",
        "--cache-dir", str(cache_dir),
        *dependencies(),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)


def copy_project(target: Path) -> None:
    # ingest/answers draws charts with the answers extra (DuckDB, matplotlib): not the function's.
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "answers")
    shutil.copytree(ROOT / "ingest", target / "ingest", ignore=skip)
    shutil.copy2(ROOT / "config.toml", target / "config.toml")


def prune(target: Path, drop: list[str]) -> None:
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _PRUNE_DIRS and path.parent == target:
            shutil.rmtree(path)
        elif path.is_dir() and path.name == "__pycache__":
            shutil.rmtree(path)
    for name in drop:
        # A test hook: leave a module out, to prove the import test notices.
        for victim in (target / name, target / f"{name}.py"):
            if victim.is_dir():
                shutil.rmtree(victim)
            elif victim.exists():
                victim.unlink()


def precompile(target: Path, python_version: str) -> bool:
    if f"{sys.version_info.major}.{sys.version_info.minor}" != python_version:
        return False
    ok = compileall.compile_dir(
        str(target),
        quiet=1,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        stripdir=str(target),
    )
    if not ok:
        raise SystemExit("build_lambda_zip: some modules do not compile")
    return True


def write_zip(target: Path, out: Path) -> tuple[int, int]:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.tmp")
    unzipped = 0
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(p for p in target.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(target).as_posix(), date_time=_EPOCH)
            # Lambda runs the code as another user: everything must be world-readable.
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            unzipped += len(data)
            zf.writestr(info, data, compresslevel=9)
    tmp.replace(out)
    return unzipped, out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "lambda.zip")
    parser.add_argument("--python-version", default="3.11", help="the Lambda runtime's Python")
    parser.add_argument(
        "--cache-dir", type=Path, default=ROOT / "build" / "pip-cache",
        help="pip's download cache, reused across builds",
    )  # fmt: skip
    parser.add_argument("--drop", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    staging = args.out.parent / (args.out.stem + ".staging")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    install(staging, args.python_version, args.cache_dir)
    copy_project(staging)
    prune(staging, args.drop)
    compiled = precompile(staging, args.python_version)
    unzipped, zipped = write_zip(staging, args.out)
    shutil.rmtree(staging)
    print(
        f"wrote {args.out} ({zipped / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped, "
        f"python{args.python_version} x86_64{', precompiled' if compiled else ''})"
    )
    if unzipped > MAX_UNZIPPED:
        print(f"build_lambda_zip: over Lambda's {MAX_UNZIPPED / 1e6:.0f} MB unzipped limit",
              file=sys.stderr)  # fmt: skip
        return 1
    if zipped > MAX_ZIPPED:
        print("note: over 50 MB zipped: deploy through S3 (sam deploy does)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
