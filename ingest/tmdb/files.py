"""The batching sink's file rules: JSON Lines, at most 100 records and 10 MB a file.

Each record is the body TMDB sent, byte for byte, on one line. Should a body hold a raw
line break (JSON allows one between tokens; TMDB never sends one), it is re-serialised
compactly from the parsed object, which is the same JSON value on one line.

A batch is 100 records, so it is one file unless its records pass 10 MB (100 movie
details weigh 1-2 MB; a record would have to average 100 KB). Then it is cut, in plan
order, into pieces that each stay under the cap: piece 1 is file *i* as always, piece *j*
is file ``i + 10000 (j - 1)`` (``ingest.state.dataset``). That keeps every key in the contract's
``<genre>-<NNNNN>.json`` form and deterministic, so a rerun overwrites the same keys;
it holds while a genre has fewer than 10,000 batches (a million movies, more than TMDB's
whole catalogue has in any genre).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ingest.errors import RunError

MAX_RECORDS = 100
MAX_FILE_BYTES = 10_000_000


def as_line(body: bytes, data: Any) -> bytes:
    """One record's line (with its newline)."""
    raw = body.strip()
    if b"\n" in raw or b"\r" in raw:
        raw = orjson.dumps(data)
    return raw + b"\n"


def pack(lines: Sequence[bytes], max_bytes: int | None = None) -> list[bytes]:
    """Cut ``lines`` (in order) into files of at most ``max_bytes`` (default
    ``MAX_FILE_BYTES``) and ``MAX_RECORDS``."""
    max_bytes = max_bytes or MAX_FILE_BYTES
    files: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if len(line) > max_bytes:
            raise RunError(f"one TMDB record is {len(line)} bytes, over the {max_bytes}-byte file cap")
        if current and (size + len(line) > max_bytes or len(current) >= MAX_RECORDS):
            files.append(b"".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        files.append(b"".join(current))
    return files
