"""The containers scripts/container_check.py checks the image with: a podman network of its
own holding the TMDB stand-in (from the project's image) and LocalStack, the one-shot runs
and the service, each as a user would start it.

The TMDB token reaches the containers as a podman secret (``--secret ...,type=env``), as a
user should pass it. Podman 4.3 (Debian bookworm's) still shows such a value in ``podman
inspect`` of the container, as it shows ``-e``; the image itself holds none (checked by
scripts/container_images.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.standin.constants import STANDIN_TOKEN
from scripts.container_images import LOCALSTACK_IMAGE, PROJECT_IMAGE
from scripts.container_kit import (
    ROOT,
    WORK,
    CheckFailed,
    http_get,
    podman,
    podman_code,
    published,
    ready_line,
    step,
    wait_for,
)

NAME = "mli-check"
SIZES = {"crime": 120, "war": 80}
SECRET = f"{NAME}-tmdb-token"
HOOKS = ROOT / "deploy" / "localstack"
# A uid that is neither root nor the image's user: files it owns show a wrong owner.
APP_UID = 10001
GRACE_S = 60


def lake_counts(
    lake: str, *, network: str | None = None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """scripts/lake_count.py run in the project's image over ``lake`` (a host directory or
    s3://): the movie records per genre, distinct ids, bad lines, temporary files, owners."""
    args = ["run", "--rm", "-v", f"{ROOT / 'scripts' / 'lake_count.py'}:/check/lake_count.py:ro"]
    if network:
        args += ["--network", network]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    target = lake
    if not lake.startswith("s3://"):
        args += ["-v", f"{lake}:/lake:ro"]
        target = "/lake"
    out = podman(*args, PROJECT_IMAGE, "python", "/check/lake_count.py", target)
    counts: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return counts


@dataclass
class Rig:
    """The network, the stand-in and LocalStack; the one-shot runs and services on it."""

    network: str = NAME
    tmdb_url: str = f"http://{NAME}-standin:8765"
    catalogue: dict[str, Any] = field(default_factory=dict)
    aws_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    @contextmanager
    def up(cls) -> Iterator[Rig]:
        rig = cls()
        rig.down()
        try:
            rig.start()
            yield rig
        finally:
            rig.down()

    def start(self) -> None:
        podman("network", "create", self.network)
        podman("secret", "create", SECRET, "-", input=STANDIN_TOKEN)
        sizes = [arg for genre, n in SIZES.items() for arg in (f"--{genre}", str(n))]
        podman(
            "run",
            "-d",
            "--name",
            f"{NAME}-standin",
            "--network",
            self.network,
            PROJECT_IMAGE,
            "python",
            "-m",
            "ingest.standin",
            "--host",
            "0.0.0.0",
            "--port",
            "8765",
            *sizes,
        )
        self.catalogue = wait_for("the TMDB stand-in's ready line", lambda: ready_line(f"{NAME}-standin"), 60)
        endpoint = f"http://{NAME}-localstack:4566"
        podman(
            "run",
            "-d",
            "--name",
            f"{NAME}-localstack",
            "--network",
            self.network,
            "-p",
            "127.0.0.1::4566",
            "-e",
            "SERVICES=s3,sqs",
            "-e",
            "SQS_ENDPOINT_STRATEGY=path",
            "-e",
            "INGEST_BUCKET=movies-lake",
            "-e",
            "INGEST_QUEUE=movies-lake-batches",
            "-v",
            f"{HOOKS / 'init-s3.sh'}:/etc/localstack/init/ready.d/init-s3.sh:ro",
            "-v",
            f"{HOOKS / 'init-sqs.sh'}:/etc/localstack/init/ready.d/init-sqs.sh:ro",
            LOCALSTACK_IMAGE,
        )
        hooks = wait_for("LocalStack's init hooks", lambda: _hooks_done(f"{NAME}-localstack"), 240, 1)
        self.aws_env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        movies = self.catalogue.get("movies")
        step("TMDB stand-in and LocalStack on a podman network", f"{movies} movies; hooks {hooks}")

    def down(self) -> None:
        for container in (f"{NAME}-service", f"{NAME}-stop", f"{NAME}-standin", f"{NAME}-localstack"):
            podman_code("rm", "-f", "-t", "0", container)
        podman_code("secret", "rm", SECRET)
        podman_code("network", "rm", "-f", self.network)

    def lake(self, name: str) -> Path:
        """A fresh host directory the image's user can write, as a user would mount."""
        path = WORK / f"lake-{name}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        os.chown(path, APP_UID, APP_UID)
        return path

    def options(self, lake: Path | None) -> list[str]:
        """``podman run`` options: the network, the token (a secret), TMDB and the lake."""
        args = ["--network", self.network, "--secret", f"{SECRET},type=env,target=TMDB_READ_ACCESS_TOKEN"]
        args += ["-e", f"TMDB_BASE_URL={self.tmdb_url}", "-v", f"{ROOT / 'data'}:/app/data:ro"]
        if lake is None:
            env = self.aws_env | {"INGEST_LAKE": "s3://movies-lake"}
            args += [a for key, value in env.items() for a in ("-e", f"{key}={value}")]
        else:
            args += ["-v", f"{lake}:/app/datalake"]
        return args

    def run_once(self, command: list[str], *, lake: Path | None) -> None:
        podman("run", "--rm", *self.options(lake), PROJECT_IMAGE, *command, timeout=600)

    def exactly_once(self, counts: dict[str, Any], what: str) -> None:
        if (
            counts["records"] != SIZES
            or counts["distinct"] != SIZES
            or counts["ids"] != self.catalogue["movies"]
        ):
            raise CheckFailed(
                f"{what}: records {counts['records']}, distinct ids {counts['distinct']}; "
                f"the stand-in's catalogue is {SIZES} ({self.catalogue['movies']} movies)"
            )
        if counts["bad_lines"] or counts["temp_files"]:
            raise CheckFailed(
                f"{what}: {counts['bad_lines']} bad lines, temporary files {counts['temp_files']}"
            )


def _hooks_done(container: str) -> str:
    status, body = http_get(published(container, 4566) + "/_localstack/init/ready")
    if status != 200 or not json.loads(body).get("completed"):
        return ""
    states = {s["name"]: s["state"] for s in json.loads(body)["scripts"]}
    if set(states.values()) != {"SUCCESSFUL"}:
        raise CheckFailed(f"LocalStack's init hooks did not all succeed: {states}")
    return ", ".join(sorted(states))


def readiness(base: str) -> tuple[str, int]:
    """Which probe the service answers and its status: ``/readyz`` when the image has it,
    ``/healthz`` when ``/readyz`` is 404 (an image from before it)."""
    status, _ = http_get(base + "/readyz")
    if status == 404:
        return "/healthz", http_get(base + "/healthz")[0]
    return "/readyz", status


def check_service(rig: Rig) -> str:
    """The default command: start time, /readyz, /metrics, the HEALTHCHECK, ``podman stop``.
    Returns the start time, said for a person."""
    name = f"{NAME}-service"
    started = time.monotonic()
    podman(
        "run", "-d", "--name", name, "-p", "127.0.0.1::8080", *rig.options(rig.lake("service")), PROJECT_IMAGE
    )
    base = wait_for("the service's published port", lambda: _try_published(name), 60)
    try:
        probe, _ = wait_for("the service ready (200)", lambda: _ready(base), 120, 0.05)
    except CheckFailed as exc:
        status, body = http_get(base + "/readyz")
        raise CheckFailed(f"{exc}; /readyz answers {status}: {body.decode(errors='replace')[:300]}") from None
    ready_s = time.monotonic() - started
    note = "" if probe == "/readyz" else " (the image has no /readyz: it predates it; /healthz used)"
    status, page = http_get(base + "/metrics")
    if status != 200 or b"ingest_runs_total" not in page:
        raise CheckFailed(f"/metrics answered {status} without ingest_runs_total")
    if podman_code("healthcheck", "run", name) != 0:
        raise CheckFailed("the image's HEALTHCHECK fails on the running service")
    stop_s, code = _stop(name)
    if code != 0:
        raise CheckFailed(f"the service exited {code} on podman stop")
    step(
        "service (default command)",
        f"{probe} 200 {ready_s:.1f} s after podman run{note}; /metrics answers; HEALTHCHECK healthy; "
        f"podman stop: exit 0 in {stop_s:.1f} s",
    )
    return f"{ready_s:.1f} s from podman run to {probe} 200{note}"


def _try_published(name: str) -> str:
    try:
        return published(name, 8080)
    except CheckFailed:
        return ""


def _ready(base: str) -> tuple[str, int] | None:
    probe, status = readiness(base)
    return (probe, status) if status == 200 else None


def _stop(name: str) -> tuple[float, int]:
    started = time.monotonic()
    podman("stop", "-t", str(GRACE_S + 30), name, timeout=GRACE_S + 60)
    stop_s = time.monotonic() - started
    code = int(podman("inspect", "--format", "{{.State.ExitCode}}", name).strip())
    podman("rm", name)
    return stop_s, code


def check_stop(rig: Rig) -> None:
    """``podman stop`` while the service runs the job: it must exit 0 within the grace
    period and leave only whole batches; a rerun then completes the lake, each movie once."""
    name = f"{NAME}-stop"
    config = (ROOT / "config.toml").read_text()
    for key, value in (
        ("run_at_start", "true"),
        ("rate_per_s", "20"),
        ("csv", "[]"),
        ("collections", "false"),
    ):
        config = re.sub(rf"^{key} = .*$", f"{key} = {value}", config, flags=re.MULTILINE)
    (WORK / "stop.toml").write_text(config)
    lake = rig.lake("stop")
    mounts = ["-v", f"{WORK / 'stop.toml'}:/app/stop.toml:ro", "-e", "INGEST_CONFIG=/app/stop.toml"]
    podman("run", "-d", "--name", name, "-p", "127.0.0.1::8080", *rig.options(lake), *mounts, PROJECT_IMAGE)
    base = wait_for("the service's published port", lambda: _try_published(name), 60)
    wait_for("a first batch written by the service's run", lambda: _written(base) > 0, 120, 0.2)
    stop_s, code = _stop(name)
    counts = lake_counts(str(lake))
    written = sum(counts["records"].values())
    if code != 0 or stop_s > GRACE_S:
        raise CheckFailed(f"podman stop mid-run: exit {code} after {stop_s:.1f} s (grace period {GRACE_S} s)")
    if counts["temp_files"] or counts["bad_lines"] or counts["records"] != counts["distinct"]:
        raise CheckFailed(f"podman stop mid-run left a partial batch: {counts}")
    rig.run_once(["python", "-m", "ingest", *[a for g in SIZES for a in ("--genre", g)]], lake=lake)
    rig.exactly_once(lake_counts(str(lake)), "the rerun after podman stop")
    total = sum(SIZES.values())
    step(
        "podman stop in the middle of a run",
        f"exit 0 in {stop_s:.1f} s (grace {GRACE_S} s), {written} of {total} movies in whole batches, "
        "no temporary file; the rerun completed it, each movie once",
    )


def _written(base: str) -> int:
    status, page = http_get(base + "/metrics")
    found = re.search(rb"^ingest_movies_written_total(?:\{[^}]*\})? (\d+)", page, re.MULTILINE)
    return int(found.group(1)) if status == 200 and found else 0
