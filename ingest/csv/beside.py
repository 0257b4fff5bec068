"""The validation scan on a core of its own: ``scan_csv`` in a child process.

The scan is the upload's largest CPU cost (about 2 s per GB: field counts and a full UTF-8
decode) and holds the GIL, which the event loop sending the parts needs too. Where the
machine has a second core, a child process (``python -m ingest.csv.scan FILE``) reads the
file on its own and answers with the scan as JSON; its CPU is the run's all the same, but
it no longer takes turns with the uploads. On one core a worker thread does the same
work. Cancelled, the child is killed and reaped.
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
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ingest.csv.scan",
        str(path),
        *([] if with_hash else ["--no-hash"]),
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
