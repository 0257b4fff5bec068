"""Where a run's CPU went, from a py-spy ``--format raw`` profile: samples per activity.

    bench/.venv/bin/py-spy record -r 100 -f raw -o OUT.txt -- .venv/bin/python -m ingest ...
    python bench/spy_summary.py OUT.txt [MORE.txt ...]

py-spy samples only threads that are running (not waiting), so each sample is ~10 ms of
CPU at 100 Hz (except pool threads blocked on their queue, which py-spy reports as
running: those are left out). A sample is put in the first activity whose marker appears in its stack
(outermost rule first: e.g. anything under the SigV4 signer counts as signing).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

# (activity, markers): the first rule with a marker in the stack wins.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("start-up: imports", ("_find_and_load", "_call_with_frames_removed")),
    (
        "start-up: SSL context (CA bundle)",
        ("load_verify_locations", "set_default_verify_paths", "create_default_context"),
    ),
    (
        "start-up: SDK session/client/model",
        ("_create_client", "create_client", "load_service_model", "get_session"),
    ),
    ("whole-file SHA-256 pass (hash_file)", ("hash_file",)),
    ("validation scan (translate/decode)", ("scan_csv", "_Checker", "_ScanFeed")),
    ("SigV4 payload SHA-256 per part", ("payload (botocore/auth.py",)),
    ("SigV4 signing (other)", ("botocore/auth.py",)),
    ("CRC32 per part (botocore)", ("httpchecksum",)),
    ("part read + CRC32 (prototype reader)", ("_read_part",)),
    (
        "body reads for aiohttp (executor)",
        ("_read_and_available_len", "FileRegion.read", "(aiohttp/payload.py"),
    ),
    ("socket send / aiohttp write", ("send (", "http_writer", "_write (")),
    ("response parsing", ("parse (", "parsers.py", "_parse")),
    ("other botocore/aiobotocore", ("botocore/",)),
    ("event loop / asyncio", ("asyncio/",)),
)


IDLE = "(idle: executor thread waiting for work)"


def classify(stack: str) -> str:
    # py-spy counts a pool thread blocked in its queue's lock as running: not CPU.
    if stack.rsplit(";", 1)[-1].startswith("_worker (concurrent/futures/thread.py"):
        return IDLE
    for name, markers in RULES:
        if any(m in stack for m in markers):
            return name
    return "other"


def summarise(path: Path) -> tuple[int, Counter[str]]:
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        kind = classify(stack)
        counts[kind] += int(n)
        if kind != IDLE:
            total += int(n)
    return total, counts


def main() -> None:
    for arg in sys.argv[1:]:
        total, counts = summarise(Path(arg))
        print(f"\n{arg}: {total} samples on CPU (idle pool threads left out)")
        print("| activity | samples | share |")
        print("|---|---:|---:|")
        for name, n in counts.most_common():
            if name == IDLE:
                continue
            print(f"| {name} | {n} | {100 * n / total:.0f}% |")


if __name__ == "__main__":
    main()
