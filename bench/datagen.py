"""Synthetic CSV files in the real schema, fast enough to make a gigabyte per run.

``scripts/make_sample_csv.py`` draws every row (~22 s per million rows). Here it draws
one block of rows once and the file is that block repeated, cut at the exact row count
or byte size asked for: same header, delimiter, nulls and UTF-8 text as the real files.
Upload speed does not depend on the rows being distinct (nothing is compressed). A file
is rebuilt only when its recorded parameters change; its MD5 is kept beside it for the
read-back check.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from scripts import make_sample_csv as sample

BLOCK_ROWS = 100_000


def _block(kind: str, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [(sample._row(kind, i, rng) + "\n").encode() for i in range(BLOCK_ROWS)]


def make_csv(
    out: Path, *, kind: str = "movies", rows: int = 0, target_bytes: int = 0, seed: int = 1
) -> dict[str, Any]:
    """Write ``out`` with ``rows`` data rows, or at least ``target_bytes`` bytes."""
    meta_path = out.with_name(out.name + ".meta.json")
    params = {"kind": kind, "rows": rows, "target_bytes": target_bytes, "seed": seed, "block": BLOCK_ROWS}
    if out.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("params") == params and meta.get("size") == out.stat().st_size:
            return meta  # type: ignore[no-any-return]
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (sample.MOVIES_HEADER if kind == "movies" else sample.SERIES_HEADER) + "\n"
    block = _block(kind, seed)
    block_bytes = b"".join(block)
    md5 = hashlib.md5()
    written_rows = 0
    size = 0
    with out.open("wb") as fh:

        def put(data: bytes) -> None:
            nonlocal size
            fh.write(data)
            md5.update(data)
            size += len(data)

        put(header.encode())
        while True:
            if rows and written_rows + BLOCK_ROWS > rows:
                put(b"".join(block[: rows - written_rows]))
                written_rows = rows
                break
            if target_bytes and size + len(block_bytes) > target_bytes:
                take = 0
                acc = size
                while acc < target_bytes:
                    acc += len(block[take])
                    take += 1
                put(b"".join(block[:take]))
                written_rows += take
                break
            put(block_bytes)
            written_rows += BLOCK_ROWS
            if rows and written_rows == rows:
                break
    meta = {"params": params, "rows": written_rows, "size": size, "md5": md5.hexdigest()}
    meta_path.write_text(json.dumps(meta))
    return meta
