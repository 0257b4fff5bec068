#!/usr/bin/env python3
"""Build the project's image with podman and check it as a user would (``dev.py container``).

    python3 scripts/container_check.py [--no-compose]

It makes the base images if missing (scripts/container_images.py), builds the image, and
then, on a podman network of its own with the TMDB stand-in (run from the image) and
LocalStack 4.14.0 (built locally) beside it:

1. no secret in ``podman history`` or ``podman image inspect``, though the build ran with
   a TMDB token and an AWS secret key in its environment;
2. a one-shot main job into a mounted local lake: every movie exactly once, every file
   owned by the image's unprivileged user (uid 10001);
3. a one-shot run into LocalStack's S3;
4. the default command (the service): seconds from ``podman run`` to ``/readyz`` 200
   (``/healthz`` where the image predates ``/readyz``, said so), ``/metrics``, the
   HEALTHCHECK passing, ``podman stop``;
5. ``podman stop`` in the middle of a run: exit 0 within the grace period, no partial
   batch in the lake, and a rerun completes it with every movie once;
6. docker-compose.yml with podman-compose (scripts/compose_check.py) unless --no-compose;
7. the image's size, compressed as a registry stores it.

Standard library only, as root on Linux with apt-get (it installs podman, runc and
debootstrap where missing). Exit 0: all passed; 1: a check failed; 2: this machine cannot
run it, said in one line. Not part of ``dev.py test``: it installs system packages.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.standin.constants import STANDIN_TOKEN
from scripts import compose_check
from scripts.container_images import (
    LOCALSTACK_BASE,
    PROJECT_BASE,
    PROJECT_IMAGE,
    build_localstack,
    build_project,
    compressed_size,
    ensure_base,
    secrets_in,
)
from scripts.container_kit import CheckFailed, MachineLacks, podman, prepare_machine, step
from scripts.container_service import Rig, check_service, check_stop, lake_counts


def check_oneshot_local(rig: Rig) -> None:
    lake = rig.lake("oneshot")
    rig.run_once(["python", "-m", "ingest"], lake=lake)
    counts = lake_counts(str(lake))
    rig.exactly_once(counts, "the one-shot main job")
    owners = counts["owners"]
    if set(owners) != {"10001"}:
        raise CheckFailed(f"lake files owned by uids {sorted(owners)}, not only the image's 10001")
    csv = sorted(p.name for p in (lake / "Raw" / "Local" / "CSV").rglob("*.csv"))
    if csv != ["movies.csv", "series.csv"]:
        raise CheckFailed(f"the one-shot main job stored CSV files {csv}")
    movies = sum(counts["records"].values())
    step(
        "one-shot main job into a mounted lake",
        f"{movies} movies once each, 2 CSV files, all owned by uid 10001",
    )


def check_oneshot_s3(rig: Rig) -> None:
    rig.run_once(["python", "-m", "ingest", "--genre", "war", "--limit", "50"], lake=None)
    counts = lake_counts("s3://movies-lake", network=rig.network, env=rig.aws_env)
    if counts["records"] != {"war": 50} or counts["distinct"] != {"war": 50}:
        raise CheckFailed(f"the one-shot run into LocalStack wrote {counts['records']}, not 50 war movies")
    step("one-shot run into LocalStack's S3", "50 war movies once each")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev.py container", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-compose", action="store_true", help="skip the docker-compose.yml run")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        prepare_machine()
        step("podman", podman("--version").strip() + ", runc, cgroupfs")
        step("base image", ensure_base(PROJECT_BASE))
        step("base image", ensure_base(LOCALSTACK_BASE))
        canary = "canary-" + secrets.token_hex(8)
        build_s = build_project(canary)
        step("podman build .", f"{PROJECT_IMAGE} in {build_s:.0f} s")
        leaks = secrets_in(PROJECT_IMAGE, [canary, STANDIN_TOKEN])
        if leaks:
            raise CheckFailed("; ".join(leaks))
        step("no secret in podman history or podman image inspect")
        step("LocalStack image", build_localstack())
        with Rig.up() as rig:
            check_oneshot_local(rig)
            check_oneshot_s3(rig)
            measures = check_service(rig)
            check_stop(rig)
        if not args.no_compose:
            compose_check.run()
        packed, total = compressed_size(PROJECT_IMAGE)
        base_packed, _ = compressed_size(PROJECT_BASE.image)
        step(
            "image size",
            f"{packed / 2**20:.1f} MiB compressed (gzip layers), {total / 2**20:.0f} MiB unpacked; "
            f"{(packed - base_packed) / 2**20:.1f} MiB of it on top of the base image",
        )
        step("start", measures)
    except MachineLacks as exc:
        print(exc, file=sys.stderr)
        return 2
    except CheckFailed as exc:
        print(f"FAIL  {exc}", flush=True)
        return 1
    print(f"container check passed in {time.monotonic() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
