"""A peer in the crawl benchmark: dlt's REST API source beside this project, on one stand-in.

    python bench/run.py --only-peer                 # makes bench/.venv-dlt, runs this
    .venv/bin/python bench/dlt_peer.py --dlt-python bench/.venv-dlt/bin/python

The same crawl both ways: every War movie (details + keywords in one request each)
against a fresh stand-in enforcing ``--rate`` requests/s, ``--latency-ms`` away, answering
429 past ``--max-connections`` requests in flight, ``--runs`` times each, alternating; once
per server model of ``--rate-models``: the rate over a sliding second, and a token bucket
of ``--burst`` tokens (the rate when not given) refilled at the rate (nginx's
``limit_req``, most API gateways), since TMDB does not say which it uses. dlt's side is its REST API source at the settings the issue
names: a paginated ``discover/movie`` resource and a dependent ``movie`` resource that
resolves each id (``append_to_response=keywords``), ``--workers`` extract workers, the
filesystem destination in a local folder, JSON Lines. This project's side is
``python -m ingest --genre war --rate R`` into a local lake. Measured from outside: wall
time, CPU (user + system via ``wait4``), peak RSS (``ru_maxrss``); the stand-in's own
counters give requests and 429s; each side's stored records are read back and counted.
Writes ``bench/DLT_PEER.md`` (``--out``). ``bench/run.py`` runs it (``run_peer``) with dlt
from ``bench/requirements-dlt.txt`` in a venv of its own (dlt's filesystem extra pins
botocore apart from the baselines'); its smoke run crawls a few hundred movies once. It
judges nothing: the exit status is non-zero only if a side failed or stored a movie twice.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bootstrap import compile_sources  # noqa: E402
from procs import run_sampled  # noqa: E402

from ingest.standin import PAGE_SIZE, STANDIN_TOKEN, standin_process  # noqa: E402

DLT_SCRIPT = """
import os, sys
import dlt
from dlt.sources.rest_api import rest_api_source

base, token, folder, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.environ["EXTRACT__WORKERS"] = str(workers)
source = rest_api_source({
    "client": {
        "base_url": base + "/3/",
        "auth": {"type": "bearer", "token": token},
    },
    "resources": [
        {
            "name": "discover",
            "endpoint": {
                "path": "discover/movie",
                "params": {"with_genres": 10752, "sort_by": "popularity.desc"},
                "data_selector": "results",
                "paginator": {"type": "page_number", "base_page": 1, "total_path": "total_pages"},
            },
        },
        {
            "name": "movie",
            "parallelized": True,
            "endpoint": {
                "path": "movie/{resources.discover.id}",
                "params": {"append_to_response": "keywords"},
                "paginator": "single_page",
                "data_selector": "$",
            },
        },
    ],
})
pipeline = dlt.pipeline(
    pipeline_name="tmdb_war",
    pipelines_dir=os.path.join(folder, ".dlt"),
    destination=dlt.destinations.filesystem(bucket_url="file://" + os.path.join(folder, "lake")),
    dataset_name="war",
)
print(pipeline.run(source.with_resources("discover", "movie"), loader_file_format="jsonl"))
"""


def measured(cmd: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> dict[str, float]:
    run = run_sampled(cmd, env, log, cwd=cwd)
    if run.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {run.returncode}: {log.read_text(errors='replace')[-1500:]}")
    return {
        "seconds": round(run.seconds, 2),
        "cpu_s": round(run.cpu_s, 2),
        "peak_rss_mib": round(run.peak_rss_mib, 1),
    }


def records(folder: Path, pattern: str) -> list[dict[str, object]]:
    out = []
    for path in folder.rglob(pattern):
        if path.suffix in (".jsonl", ".json") or path.name.endswith(".jsonl.gz"):
            data = path.read_bytes()
            if path.name.endswith(".gz"):
                import gzip

                data = gzip.decompress(data)
            out += [json.loads(line) for line in data.splitlines() if line.strip()]
    return out


def standin_args(args: argparse.Namespace, model: str) -> list[str]:
    out = ["--war", str(args.movies), "--rate", f"{args.rate:g}", "--rate-model", model]
    out += ["--latency-ms", f"{args.latency_ms:g}", "--max-connections", str(args.max_connections)]
    return out + (["--burst", f"{args.burst:g}"] if args.burst else [])


def ceiling_s(movies: int, rate: float) -> float:
    """The least time the rate allows: one discover page per 20 movies, one request a movie."""
    return (-(-movies // PAGE_SIZE) + movies) / rate


def one(side: str, args: argparse.Namespace, logs: Path, n: int, model: str) -> dict[str, object]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        standin_process(*standin_args(args, model)) as standin,
    ):
        folder = Path(tmp)
        # "compare": this project's side from another checkout (``--compare DIR``), A/B.
        code = args.compare if side == "compare" else ROOT
        env = dict(os.environ) | {"PYTHONPATH": str(code)}
        if side == "dlt":
            script = folder / "dlt_crawl.py"
            script.write_text(DLT_SCRIPT)
            cmd = [args.dlt_python, str(script), standin.url, STANDIN_TOKEN, str(folder), str(args.workers)]
            m = measured(cmd, env, logs / f"dlt-{model}-{n}.log")
            movies = [r for r in records(folder / "lake", "*") if "keywords" in r or "budget" in r]
            # dlt flattens a nested object into columns (belongs_to_collection__id) and drops
            # a key whose value is null: a record with neither lost TMDB's null.
            nulls = sum(1 for r in movies if not any(k.startswith("belongs_to_collection") for k in r))
        else:
            env |= {"TMDB_BASE_URL": standin.url, "TMDB_READ_ACCESS_TOKEN": STANDIN_TOKEN}
            cmd = [
                sys.executable,
                "-m",
                "ingest",
                "--genre",
                "war",
                # The movies dlt's source fetches (config.toml's main job takes series too).
                "--media",
                "movies",
                "--lake",
                str(folder / "lake"),
                "--rate",
                f"{args.rate:g}",
                "--concurrency",
                str(args.max_connections),
                "--date",
                "2026-11-01",
            ]
            # In the checkout's own directory: ``-m ingest`` imports from there first.
            m = measured(cmd, env, logs / f"{side}-{model}-{n}.log", cwd=code)
            movies = records(folder / "lake" / "Raw", "war-*.json")
            nulls = sum(1 for r in movies if "belongs_to_collection" not in r)
        with urllib.request.urlopen(standin.url + "/__stats", timeout=10) as resp:
            stats = json.loads(resp.read())
    ids = [r["id"] for r in movies]
    return m | {
        "model": model,
        "side": side,
        "movies": len(ids),
        "distinct": len(set(ids)),
        "requests": stats["total"],
        "throttled_429": stats["throttled"],
        "active_s": stats["active_s"],
        "of_ceiling": round(len(set(ids)) / float(stats["active_s"]) / args.rate, 4)
        if stats["active_s"]
        else None,
        # Every request needed over the rate, against the process's wall: what a user waits.
        "wall_of_ceiling": round(ceiling_s(args.movies, args.rate) / float(m["seconds"]), 4),
        "load_1m": round(os.getloadavg()[0], 2),
        "records_missing_belongs_to_collection": nulls,
    }


def main() -> int:
    p = argparse.ArgumentParser(prog="bench/dlt_peer.py")
    p.add_argument("--dlt-python", required=True, help="an interpreter with dlt[filesystem] installed")
    p.add_argument("--movies", type=int, default=2268)
    p.add_argument("--rate", type=float, default=40.0)
    p.add_argument("--latency-ms", type=float, default=30.0, help="the stand-in's mean latency")
    p.add_argument(
        "--max-connections", type=int, default=20, help="the stand-in's limit, the client's concurrency"
    )
    p.add_argument(
        "--rate-models", default="sliding,bucket", help="the stand-in's rate models to run, in turn"
    )
    p.add_argument("--burst", type=float, default=None, help="the token bucket's size (default: the rate)")
    p.add_argument(
        "--sides", default="ingest,dlt", help="ingest, dlt, compare (the --compare checkout), alternating"
    )
    p.add_argument("--compare", type=Path, default=None, help="another checkout, run as the side 'compare'")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "DLT_PEER.md")
    args = p.parse_args()
    logs = ROOT / "bench" / "work" / "dlt_peer"
    logs.mkdir(parents=True, exist_ok=True)
    # Each side measured runs byte-compiled code, as installed (dlt's is, from its wheels).
    compile_sources(ROOT)
    if args.compare is not None:
        compile_sources(args.compare)
    rows = []
    for model in args.rate_models.split(","):
        for n in range(args.runs):
            for side in args.sides.split(","):
                rows.append(one(side, args, logs, n, model))
                print(rows[-1], flush=True)
    header = (
        "model",
        "side",
        "movies",
        "distinct",
        "seconds",
        "wall_of_ceiling",
        "active_s",
        "of_ceiling",
        "requests",
        "throttled_429",
        "peak_rss_mib",
        "cpu_s",
        "records_missing_belongs_to_collection",
        "load_1m",
    )
    lines = [
        "# dlt's REST API source beside this project: bench/dlt_peer.py",
        "",
        f"`{' '.join(sys.argv)}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.movies} War movies, "
        f"stand-in at {args.rate:g} req/s ({args.rate_models}; burst {args.burst or args.rate:g}), "
        f"{args.latency_ms:g} ms, {args.max_connections} connections; dlt with {args.workers} extract workers; "
        "a machine shared with other jobs (2 cores). `wall_of_ceiling`: every request needed / rate, over the "
        "process's wall.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(str(r.get(h)) for h in header) + " |" for r in rows),
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 1 if any(r["movies"] != r["distinct"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
