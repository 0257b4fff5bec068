"""``python -m ingest status`` for a whole catalogue day on moto, without fetching one movie.

    .venv/bin/python bench/catalogue_status.py --ids 1045108,94954 --reps 3

``bench/catalogue.py --fill-status`` times status after a cut pass whose lake it fills with
empty placeholders; this builds the same lake directly, in a fresh moto bucket per size:
the plan's header and its chunks' keys, a run record, and every batch's done-marker and
file (empty objects under the pipeline's own keys: status reads no marker body and no
file), so status lists a whole day's worth of keys. ``--ids`` is the plan's size (the
stand-in's 1.1M export holds 1,045,108 non-adult ids, its 100k one 94,954). Each rep is
one ``python -m ingest status --json`` process, wall time; ``--source`` runs another
checkout's code against the same lake (a before/after comparison). Prints one JSON line
per size; judges nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from catalogue import AWS, DAY0, PY  # noqa: E402
from procs import moto_server, run_sampled  # noqa: E402

from ingest.lake.keys import Kind  # noqa: E402
from ingest.state.catalogue_plan import CataloguePlan, chunk_key, header_key  # noqa: E402
from ingest.state.markers import marker_key  # noqa: E402
from ingest.state.runs import RunRequest  # noqa: E402


def fill(s3: Any, bucket: str, ids: int) -> int:
    """The day's catalogue in ``bucket``: header, chunk keys, run record, every batch in."""
    date = dt.date.fromisoformat(DAY0)
    plan = CataloguePlan(Kind.MOVIES, date, ids, export={"file": "movie_ids.json.gz"}, members=ids)
    request = RunRequest(date, "cli", (), (), False, False, "incremental", None, False, catalogue=True)
    bodies = {header_key(date, Kind.MOVIES): plan.to_json(), request.key: request.body()}
    keys = [chunk_key(plan, "ids", n) for n in range(1, plan.chunks + 1)]
    for batch in plan.shapes():
        keys.append(marker_key(plan, batch, len(batch.ids), 1))
        keys.append(plan.dataset.file_key(date, batch.number))
    bodies |= dict.fromkeys(keys, b"")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), bodies.items()))
    return len(bodies)


def timed(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> float:
    done = run_sampled(cmd, env, log, cwd=cwd)
    # 1 is status's "not all in" (this day is finishing: every batch in, no cursor yet).
    if done.returncode not in (0, 1):
        raise SystemExit(f"status exited {done.returncode}; its output: {log}")
    return round(done.seconds, 2)


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/catalogue_status.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--ids", default="1045108", help="plan sizes (non-adult ids), comma-separated")
    p.add_argument("--reps", type=int, default=3, help="status runs per size")
    p.add_argument("--compare", type=Path, help="another checkout whose status is timed in turn")
    args = p.parse_args()
    os.environ.update(AWS)
    logs = ROOT / "bench" / "work" / "catalogue"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ) | {"PYTHONPATH": str(ROOT)}
    with moto_server(logs / "moto-status.log") as endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        for ids in (int(x) for x in args.ids.split(",")):
            bucket = f"status-{ids}-{uuid.uuid4().hex[:6]}"
            s3.create_bucket(Bucket=bucket)
            t0 = time.perf_counter()
            objects = fill(s3, bucket, ids)
            filled_s = time.perf_counter() - t0
            cmd = [PY, "-m", "ingest", "status", "--lake", f"s3://{bucket}", "--date", DAY0, "--json"]
            seconds: list[float] = []
            other: list[float] = []
            for rep in range(args.reps):
                seconds.append(timed(cmd, env, ROOT, logs / f"status-only-{ids}-{rep}.log"))
                if args.compare:
                    there = env | {"PYTHONPATH": str(args.compare.resolve())}
                    other.append(timed(cmd, there, args.compare, logs / f"status-other-{ids}-{rep}.log"))
            line = {"ids": ids, "objects": objects, "fill_s": round(filled_s, 1), "status_s": seconds}
            line |= {"compare_status_s": other} if args.compare else {}
            print(json.dumps(line | {"loadavg": os.getloadavg()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
