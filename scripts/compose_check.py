"""docker-compose.yml brought up with podman-compose, for scripts/container_check.py:

LocalStack (the image scripts/container_images.py builds, through ``LOCALSTACK_IMAGE``)
with the bucket and queues from its init hooks, a fleet of ``WORKERS`` queue workers, the
TMDB stand-in beside them on the compose network, a ``--enqueue`` run of the ``ingest``
service, every movie in the lake exactly once, then ``down``: the workers exit 0 and no
container or network of the project is left.

podman-compose comes from PyPI (``PODMAN_COMPOSE``) into ``.venv-compose/``: Debian
bookworm's 1.0.3 ignores ``--scale``. With podman 4.3 neither honours ``depends_on:
condition: service_healthy`` (it needs podman 4.6; nor does podman run healthcheck timers
without systemd), so this check brings LocalStack up first and runs its healthcheck until
it passes, then the workers; a worker started before the queue exists exits and
``restart: unless-stopped`` brings it back. podman-compose's ``stop`` and ``down`` address
only the file's one replica of a ``--scale``d service: the fleet is stopped with ``podman
stop``, and ``down --remove-orphans`` removes the rest.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import venv
from typing import Any

from ingest.standin.constants import STANDIN_TOKEN
from scripts.container_images import LOCALSTACK_IMAGE, PROJECT_IMAGE
from scripts.container_kit import (
    ROOT,
    CheckFailed,
    http_get,
    podman,
    podman_code,
    prepare_machine,
    published,
    ready_line,
    say,
    step,
    wait_for,
)
from scripts.container_service import lake_counts, readiness

PODMAN_COMPOSE = "podman-compose==1.6.0"
VENV = ROOT / ".venv-compose"
PROJECT = "mli-compose"
NETWORK = f"{PROJECT}_default"
STANDIN = f"{PROJECT}-standin"
WORKERS = 4
SIZES = {"crime": 600, "war": 300}
AWS_ENV = {
    "AWS_ENDPOINT_URL": "http://localstack:4566",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def ensure_podman_compose() -> str:
    stamp = VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != PODMAN_COMPOSE:
        say(f"installing {PODMAN_COMPOSE} into {VENV.name}/")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
        subprocess.run([*pip, PODMAN_COMPOSE], check=True)
        stamp.write_text(PODMAN_COMPOSE)
    return str(VENV / "bin" / "podman-compose")


def compose(tool: str, *args: str, timeout: float = 600) -> str:
    env = dict(os.environ)
    env |= {
        "LOCALSTACK_IMAGE": LOCALSTACK_IMAGE,
        "TMDB_READ_ACCESS_TOKEN": STANDIN_TOKEN,
        "TMDB_BASE_URL": f"http://{STANDIN}:8765",
        "TMDB_EGRESS_WORKERS": str(WORKERS),
    }
    cmd = [tool, "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"), *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise CheckFailed(f"podman-compose {' '.join(args[:2])} failed: {tail[-300:]}")
    return done.stdout


def containers(service: str, *, all_states: bool = False) -> list[str]:
    args = ["ps", "--format", "{{.Names}}", "--filter", f"label=io.podman.compose.project={PROJECT}"]
    args += ["--filter", f"label=com.docker.compose.service={service}"] + (["-a"] if all_states else [])
    return sorted(podman(*args).split())


def _queue_batches(base: str) -> int:
    status, page = http_get(base + "/metrics")
    found = re.findall(rb'^ingest_queue_batches_total\{state="done"\} (\d+)', page, re.MULTILINE)
    return sum(int(n) for n in found) if status == 200 else 0


def _worker_urls() -> dict[str, str]:
    urls = {}
    for name in containers("worker"):
        try:
            urls[name] = published(name, 8080)
        except CheckFailed:
            return {}
    return urls if len(urls) == WORKERS and all(readiness(u)[1] == 200 for u in urls.values()) else {}


def _healthy(name: str) -> bool:
    return podman_code("healthcheck", "run", name) == 0


def run() -> None:
    tool = ensure_podman_compose()
    clean()
    started = time.monotonic()
    try:
        # LocalStack first: podman 4.3 ignores `condition: service_healthy`, and workers
        # that start before the queue exists exit and are restarted, again and again,
        # taking the CPU LocalStack needs to start.
        compose(tool, "up", "-d", "localstack")
        localstack = containers("localstack")
        wait_for("LocalStack's compose healthcheck", lambda: _healthy(localstack[0]), 300, 2)
        localstack_s = time.monotonic() - started
        compose(tool, "up", "-d", "--scale", f"worker={WORKERS}")
        sizes = [arg for genre, n in SIZES.items() for arg in (f"--{genre}", str(n))]
        podman(
            "run",
            "-d",
            "--name",
            STANDIN,
            "--network",
            NETWORK,
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
        catalogue = wait_for("the stand-in's ready line", lambda: ready_line(STANDIN), 60)
        urls = wait_for(f"{WORKERS} workers ready (/readyz, or /healthz before it)", _worker_urls, 180, 1)
        up_s = time.monotonic() - started
        restarts = sum(int(podman("inspect", "--format", "{{.RestartCount}}", n)) for n in urls)
        step(
            "podman-compose up",
            f"LocalStack healthy in {localstack_s:.0f} s (bucket and queues from its init hooks), "
            f"then {WORKERS} workers ready, {up_s:.0f} s in all ({restarts} restarts)",
        )
        genres = [a for g in SIZES for a in ("--genre", g)]
        compose(
            tool,
            "--profile",
            "oneshot",
            "run",
            "--rm",
            "ingest",
            "python",
            "-m",
            "ingest",
            *genres,
            "--enqueue",
        )
        enqueued = time.monotonic()
        total = sum(SIZES.values())
        wait_for(
            f"{total} movies in the lake from the fleet",
            lambda: sum(_counts()["records"].values()) >= total,
            600,
            3,
        )
        fleet_s = time.monotonic() - enqueued
        counts = _counts()
        if counts["records"] != SIZES or counts["distinct"] != SIZES or counts["ids"] != catalogue["movies"]:
            raise CheckFailed(
                f"the fleet wrote {counts['records']} (distinct {counts['distinct']}), not {SIZES} once"
            )
        batches = {name.rsplit("_", 1)[-1]: _queue_batches(url) for name, url in urls.items()}
        if sum(1 for n in batches.values() if n) < 2:
            raise CheckFailed(f"one worker did all the work: batches per worker {batches}")
        step(
            "the fleet consumed an --enqueue run",
            f"{total} movies each exactly once in {fleet_s:.0f} s; batches per worker {batches}",
        )
        podman("rm", "-f", "-t", "0", STANDIN)
        # What `stop` does to each container, to every replica: podman-compose's own `stop`
        # and `down` address only the file's one replica of a service scaled by --scale.
        workers = containers("worker")
        stopping = time.monotonic()
        podman("stop", "-t", "90", *workers, timeout=150)
        stop_s = time.monotonic() - stopping
        codes = [podman("inspect", "--format", "{{.State.ExitCode}}", n).strip() for n in workers]
        if set(codes) != {"0"}:
            raise CheckFailed(f"workers exited {codes} on podman stop")
        compose(tool, "down", "--remove-orphans")
        left = podman(
            "ps", "-a", "--format", "{{.Names}}", "--filter", f"label=io.podman.compose.project={PROJECT}"
        )
        if left.strip() or podman_code("network", "exists", NETWORK) == 0:
            raise CheckFailed(f"podman-compose down left containers {left.split()} or the network {NETWORK}")
        step(
            "podman stop of the fleet, podman-compose down --remove-orphans",
            f"workers exited 0 in {stop_s:.1f} s; no container or network left",
        )
    finally:
        clean(tool)


def _counts() -> dict[str, Any]:
    return lake_counts("s3://movies-lake", network=NETWORK, env=AWS_ENV)


def clean(tool: str | None = None) -> None:
    podman_code("rm", "-f", "-t", "0", STANDIN)
    if tool:
        down = [tool, "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"), "down", "-t", "0"]
        env = dict(os.environ, LOCALSTACK_IMAGE=LOCALSTACK_IMAGE)
        subprocess.run(down, cwd=ROOT, capture_output=True, env=env)
    names = podman(
        "ps", "-a", "--format", "{{.Names}}", "--filter", f"label=io.podman.compose.project={PROJECT}"
    )
    for name in names.split():
        podman_code("rm", "-f", "-t", "0", name)
    podman_code("network", "rm", "-f", NETWORK)


if __name__ == "__main__":
    # `python3 -m scripts.compose_check` from the repository: this part alone, once
    # scripts/container_check.py has made the images.
    prepare_machine()
    run()
