"""The images scripts/container_check.py runs, made on a machine that reaches no image
registry: local stand-ins for the Python base images, the project's image, LocalStack's.

A base image is Debian from its mirror (``debootstrap --variant=minbase``) with Debian's
Python, ``python3-venv`` and CA certificates, ``/usr/local/bin/python`` as in the official
``python`` images, imported as ``localhost/python:<tag>``: bookworm's Python 3.11 for the
project (``python:3.11-slim-bookworm``), trixie's 3.13 for LocalStack 4.14, whose code
needs 3.12 or later. The machine's CA bundle goes in with a pip.conf naming it, since TLS
may be intercepted on the way to PyPI.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts.container_kit import ROOT, WORK, CheckFailed, image_exists, podman, say
from scripts.localstack import PINS

MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PROJECT_IMAGE = "localhost/movies-lake-ingest:local"
LOCALSTACK_IMAGE = "localhost/localstack:4.14.0"


@dataclass(frozen=True)
class Base:
    """A local stand-in for an official ``python`` image."""

    tag: str
    suite: str

    @property
    def image(self) -> str:
        return f"localhost/python:{self.tag}"


PROJECT_BASE = Base("3.11-slim-bookworm", "bookworm")
LOCALSTACK_BASE = Base("3.13-slim-trixie", "trixie")
# Left out of the base images, as the official slim ones leave them out.
TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt")


def ensure_base(base: Base) -> str:
    """Make ``base`` unless podman has it; says which."""
    if image_exists(base.image):
        return f"{base.image} (already there)"
    started = time.monotonic()
    rootfs = WORK / f"rootfs-{base.suite}"
    shutil.rmtree(rootfs, ignore_errors=True)
    try:
        say(f"making {base.image}: debootstrap {base.suite} from {MIRROR}")
        _run(["debootstrap", "--variant=minbase", base.suite, str(rootfs), MIRROR])
        shutil.copy2("/etc/resolv.conf", rootfs / "etc" / "resolv.conf")
        install = (
            "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && "
            "apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates "
            "&& apt-get clean && rm -rf /var/lib/apt/lists/*"
        )
        _run(["chroot", str(rootfs), "/bin/sh", "-c", install])
        (rootfs / "etc" / "resolv.conf").unlink()
        if CA_BUNDLE.exists():
            shutil.copy2(CA_BUNDLE, rootfs / CA_BUNDLE.relative_to("/"))
            (rootfs / "etc" / "pip.conf").write_text(f"[global]\ncert = {CA_BUNDLE}\n")
        (rootfs / "usr" / "local" / "bin" / "python").symlink_to("/usr/bin/python3")
        for path in TRIMMED:
            for child in (rootfs / path).glob("*"):
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        _import(rootfs, base.image)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return f"{base.image} made in {time.monotonic() - started:.0f} s"


def _import(rootfs: Path, image: str) -> None:
    changes = [
        "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["python3"]',
    ]
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    args = [arg for change in changes for arg in ("--change", change)]
    done = subprocess.run(["podman", "import", *args, "-", image], stdin=tar.stdout, capture_output=True)
    tar.wait()
    if done.returncode or tar.returncode:
        raise CheckFailed(f"podman import {image} failed: {done.stderr.decode()[-300:]}")


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        tail = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()][-1:]
        raise CheckFailed(f"{cmd[0]} failed: {(tail or ['exit ' + str(done.returncode)])[0][-300:]}")


def build_project(canary: str) -> float:
    """Build the project's image as `docker build` would (the HEALTHCHECK kept: Docker's
    format); the environment holds ``canary`` as a TMDB token, which must not get in."""
    started = time.monotonic()
    env = dict(os.environ, TMDB_READ_ACCESS_TOKEN=canary, AWS_SECRET_ACCESS_KEY=canary)
    cmd = ["podman", "build", "--format", "docker", "--network", "host"]
    cmd += ["--build-arg", f"PYTHON_IMAGE={PROJECT_BASE.image}", "-t", PROJECT_IMAGE, str(ROOT)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise CheckFailed(f"podman build of the Dockerfile failed: {done.stdout[-400:]} {done.stderr[-300:]}")
    return time.monotonic() - started


def build_localstack() -> str:
    """LocalStack 4.14.0 from PyPI (deploy/localstack/Dockerfile) unless podman has it."""
    if image_exists(LOCALSTACK_IMAGE):
        return f"{LOCALSTACK_IMAGE} (already there)"
    started = time.monotonic()
    say(f"building {LOCALSTACK_IMAGE} from PyPI (a few minutes, the first time only)")
    podman(
        "build",
        "--format",
        "docker",
        "--network",
        "host",
        "--build-arg",
        f"PYTHON_IMAGE={LOCALSTACK_BASE.image}",
        "--build-arg",
        f"LOCALSTACK_PINS={' '.join(PINS)}",
        "-t",
        LOCALSTACK_IMAGE,
        str(ROOT / "deploy" / "localstack"),
        timeout=1800,
    )
    return f"{LOCALSTACK_IMAGE} built in {time.monotonic() - started:.0f} s"


def compressed_size(image: str) -> tuple[int, int]:
    """The image's layers as a registry stores them (gzip) and uncompressed, in bytes."""
    archive = WORK / "image.tar"
    podman("save", "--format", "docker-archive", "-o", str(archive), image)
    try:
        packed = total = 0
        with tarfile.open(archive) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            for layer in manifest[0]["Layers"]:
                data = tar.extractfile(layer)
                assert data is not None
                raw = data.read()
                total += len(raw)
                packed += len(gzip.compress(raw, compresslevel=6))
        return packed, total
    finally:
        archive.unlink(missing_ok=True)


def secrets_in(image: str, values: list[str]) -> list[str]:
    """Where ``values`` (or any secret's name with a value) show in the image's
    ``podman image inspect`` and ``podman history``."""
    texts = {
        "podman image inspect": podman("image", "inspect", image),
        "podman history": podman("history", "--no-trunc", "--format", "json", image),
    }
    names = ("TMDB_READ_ACCESS_TOKEN=", "TMDB_API_KEY=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=")
    found = []
    for where, text in texts.items():
        found += [f"a secret's value in {where}" for v in values if v and v in text]
        found += [f"{n}... in {where}" for n in names if n in text]
    return found
