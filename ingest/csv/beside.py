"""The validation scan on a core of its own: ``scan_csv`` in a child process.

The scan is the upload's largest CPU cost (about 2 s per GB: field counts and a full UTF-8
decode) and holds the GIL, which the event loop sending the parts needs too. Where the
machine has a second core, a child process (``python -m ingest.csv.scan FILE``) reads the
file on its own and answers with the scan as JSON; its CPU is the run's all the same, but
it no longer takes turns with the uploads. It runs at a lower priority (``--nice``): where
the cores are busy (a loaded machine, a local S3 server), the upload goes first and the
scan takes what is left. On one core a worker thread does the same work. Cancelled, the
child is killed and reaped.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import ingest
from ingest.csv.scan import CsvScan, scan_csv

# The directory ``ingest`` is imported from, so the child finds the same code.
_SOURCE = str(Path(ingest.__file__).resolve().parent.parent)
# The scan makes and drops a few MiB-sized objects a chunk (the chunk, its lines, their
# text). glibc's malloc serves each from fresh pages (mmap, or a heap it trims back) and
# the kernel faults them in again: about 1.5 s of system time a GB, most of the scan's
# own cost after the checks. Kept from the heap and never trimmed below 128 MiB, the same
# pages are reused (the child's RSS stays at its 25 MB). Other C libraries ignore it.
_MALLOC = "glibc.malloc.trim_threshold=134217728:glibc.malloc.mmap_threshold=134217728"


def spare_core() -> bool:
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    return cores > 1


async def scan_beside(path: Path, *, with_hash: bool = True) -> CsvScan:
    """``scan_csv(path, with_hash=...)`` off the event loop's core where there is one.
    Raises what ``scan_csv`` raises: ``ValueError`` (no header) or ``OSError``."""
    if not spare_core():
        return await asyncio.to_thread(scan_csv, path, with_hash=with_hash)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (_SOURCE, os.environ.get("PYTHONPATH")))))
    env.setdefault("GLIBC_TUNABLES", _MALLOC)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ingest.csv.scan",
        str(path),
        *([] if with_hash else ["--no-hash"]),
        "--nice",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await proc.communicate()
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await asyncio.shield(proc.wait())
        raise
    if proc.returncode != 0:
        try:
            failure = json.loads(out)
        except ValueError:
            raise OSError(
                f"the scan of {path} stopped (exit {proc.returncode}): {err.decode()[-300:]}"
            ) from None
        if failure.get("error") == "value":
            raise ValueError(failure["message"])
        raise OSError(failure.get("errno"), failure["message"])
    found = json.loads(out)
    found["header"] = tuple(found["header"])
    return CsvScan(**found)
