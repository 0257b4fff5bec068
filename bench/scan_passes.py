"""What each C-level pass over a CSV costs, per GB of CPU: the evidence behind the
validation scan's design (``ingest/csv/scan.py``) and "What bounds it" in RESULTS.md.

    .venv/bin/python bench/scan_passes.py [FILE] [--mib 256]

FILE defaults to the benchmark's 1 GB file (``bench/work/1gb/movies.csv``, made by
``bench/run.py``). Each pass runs over the first ``--mib`` MiB, cut into 2 MiB blocks at
newlines as the scan cuts them, and is reported as CPU seconds per GB (process time,
scaled). Passes whose library is missing from the interpreter (orjson outside the
project's venv, numpy outside the bench's) say so instead. The last two rows run the
shipped code over the whole file, each in a fresh interpreter, as a run meets it:
``scan_csv`` (no hash) and ``hash_file``. (In this process, after the passes above, the
scan comes out about 0.5 s per GB cheaper: glibc has raised its mmap threshold by then,
so the scan's 4 MiB decoded blocks are no longer mapped and faulted in afresh.) To
measure another revision's scan, put its tree first: ``PYTHONPATH=TREE python -P ...``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BLOCK = 2 * 1024 * 1024
NOT_SHAPE = bytes(b for b in range(256) if b not in b"|\n")
ASCII_NOT_SHAPE = bytes(b for b in range(128) if b not in b"|\n")
HIGH = bytes(range(128, 256))
LEAD_THEN_ASCII = re.compile(rb"[\xc0-\xff][\x00-\x7f]")
ASCII_THEN_CONT = re.compile(rb"(?<=[\x00-\x7f])[\x80-\xbf]")


def blocks(path: Path, mib: int) -> list[bytes]:
    data = path.open("rb").read(mib * 1024 * 1024)
    out, i = [], 0
    while (j := data.rfind(b"\n", i, i + BLOCK)) > i:
        out.append(data[i:j])
        i = j + 1
    return out


def orjson_check(block: bytes) -> object:
    import orjson

    try:
        return orjson.loads(block)
    except orjson.JSONDecodeError as exc:
        return str(exc)


def numpy_newlines(block: bytes) -> object:
    import numpy as np

    return np.flatnonzero(np.frombuffer(block, np.uint8) == 10)


def delete_ascii_then_decode(block: bytes) -> object:
    kept = block.translate(None, ASCII_NOT_SHAPE)
    return kept.translate(None, HIGH), kept.translate(None, b"|\n").decode("utf-8", "replace")


PASSES: dict[str, Callable[[bytes], object]] = {
    "bytes.count(newline)": lambda b: b.count(b"\n"),
    "bytes.translate (the shape)": lambda b: b.translate(None, NOT_SHAPE),
    'bytes.decode("utf-8")': lambda b: b.decode("utf-8"),
    "delete ASCII, decode the rest (not exact)": delete_ascii_then_decode,
    "re: lead byte then ASCII": LEAD_THEN_ASCII.search,
    "re: continuation after ASCII (look-behind)": ASCII_THEN_CONT.search,
    "orjson.loads as a UTF-8 check": orjson_check,
    "numpy flatnonzero(newlines)": numpy_newlines,
}


def per_gb(seconds: float, size: int) -> float:
    return seconds * 1e9 / size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?", default=str(Path(__file__).parent / "work" / "1gb" / "movies.csv"))
    ap.add_argument("--mib", type=int, default=256)
    args = ap.parse_args()
    path = Path(args.file)
    sample = blocks(path, args.mib)
    size = sum(len(b) for b in sample)
    print(f"{path}: passes over {size / 1e6:.0f} MB in {len(sample)} blocks; CPU s per GB\n")
    print("| pass | CPU s per GB |\n| --- | ---: |")
    for name, fn in PASSES.items():
        try:
            fn(sample[0])
        except ImportError as exc:
            print(f"| {name} | not measured: {exc.name} is not installed here |")
            continue
        started = time.process_time()
        for block in sample:
            fn(block)
        print(f"| {name} | {per_gb(time.process_time() - started, size):.2f} |")
    whole = path.stat().st_size
    for name, call in (("scan_csv", "scan_csv(path, with_hash=False)"), ("hash_file", "hash_file(path)")):
        print(f"| {name}, whole file, fresh process (shipped) | {per_gb(_fresh(call, path), whole):.2f} |")


def _fresh(call: str, path: Path) -> float:
    """CPU seconds of ``call`` in a new interpreter, the one running this script."""
    code = (
        "import pathlib, sys, time\n"
        "from ingest.csv.scan import hash_file, scan_csv\n"
        "path = pathlib.Path(sys.argv[1])\n"
        f"t = time.process_time(); {call}; print(time.process_time() - t)\n"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return float(out.stdout)


if __name__ == "__main__":
    main()
