"""The manifest stage 1 keeps for each CSV file and date, under ``_ingest/<date>/csv/``.

It records what the last look at the file found (rows, malformed line numbers and a
bounded sample of the first malformed row, header, checksum) and its history: when these
bytes arrived in the lake and by which run (``uploaded_at``, ``uploaded_by``), and every
check since (``history``: action, time, hash, size, run; the last ``HISTORY_LIMIT`` kept).
A rerun that skips the file adds to the history instead of overwriting the record of the
upload.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import orjson

from ingest.csv.scan import CsvScan
from ingest.lake import Lake
from ingest.lake.keys import state_key
from ingest.report import CsvFileResult

HISTORY_LIMIT = 50


def manifest_key(date: dt.date, path: Path) -> str:
    return state_key(date, "csv", f"{path.name}.manifest.json")


async def read_manifest(lake: Lake, date: dt.date, path: Path) -> dict[str, Any] | None:
    """The manifest a previous run wrote for this file and date; None if none or unreadable."""
    raw = await lake.read(manifest_key(date, path))
    if raw is None:
        return None
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None  # an unreadable manifest is re-derived, not trusted
    return manifest if isinstance(manifest, dict) else None


def same_bytes(manifest: dict[str, Any] | None, sha256: str, crc64nvme: str) -> bool:
    """Whether ``manifest`` is about the bytes with this checksum: the SHA-256 where the
    object is recorded by it, else S3's full-object CRC64NVME ("" for one not known)."""
    if manifest is None:
        return False
    if sha256:
        return bool(manifest.get("sha256") == sha256)
    return bool(crc64nvme) and manifest.get("crc64nvme") == crc64nvme


def previous_scan(manifest: dict[str, Any] | None, sha256: str, crc64nvme: str = "") -> CsvScan | None:
    """The validation a previous run recorded for these exact bytes, if any."""
    if manifest is None or not same_bytes(manifest, sha256, crc64nvme):
        return None
    try:
        return CsvScan(
            size=int(manifest["bytes"]),
            sha256=sha256,
            header=tuple(manifest["header"]),
            kind=manifest.get("kind"),
            rows=int(manifest["rows"]),
            malformed_rows=int(manifest["malformed_rows"]),
            first_malformed_lines=[int(n) for n in manifest["first_malformed_lines"]],
            non_utf8_rows=int(manifest.get("non_utf8_rows", 0)),
            malformed_sample=str(manifest.get("malformed_sample") or ""),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _history(previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    if previous is None:
        return []
    history = previous.get("history")
    if isinstance(history, list):
        return [h for h in history if isinstance(h, dict)]
    # A manifest from before the history was kept: its one check is the first entry.
    return [
        {
            "action": previous.get("action"),
            "at": previous.get("checked_at"),
            "sha256": previous.get("sha256"),
            "crc64nvme": previous.get("crc64nvme"),
            "bytes": previous.get("bytes"),
        }
    ]


def _arrival(previous: dict[str, Any] | None, scan: CsvScan) -> tuple[Any, Any]:
    """When and by which run the bytes now in the lake arrived, as a previous run saw it."""
    if previous is None or not same_bytes(previous, scan.sha256, scan.crc64nvme):
        return None, None
    if "uploaded_at" in previous:
        return previous.get("uploaded_at"), previous.get("uploaded_by")
    if previous.get("action") == "uploaded":
        return previous.get("checked_at"), None
    return None, None


async def write_manifest(
    lake: Lake,
    date: dt.date,
    path: Path,
    scan: CsvScan,
    result: CsvFileResult,
    *,
    previous: dict[str, Any] | None,
    run: str,
) -> None:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if result.action == "uploaded":
        uploaded_at, uploaded_by = now, run
    else:
        uploaded_at, uploaded_by = _arrival(previous, scan)
    entry = {
        "action": result.action,
        "at": now,
        "sha256": scan.sha256 or None,
        "crc64nvme": scan.crc64nvme or None,
        "bytes": scan.size,
        "run": run,
    }
    manifest = {
        "file": path.name,
        "source": str(path),
        "key": result.key,
        # What this run did; the history says what every run before it did.
        "action": result.action,
        "bytes": scan.size,
        # The checksum the object is recorded by: its SHA-256 (a directory, a single PUT,
        # a server without full-object checksums), else S3's full-object CRC64NVME.
        "sha256": scan.sha256 or None,
        # S3's full-object checksum of the object, when it keeps one (None otherwise).
        "crc64nvme": scan.crc64nvme or None,
        "kind": scan.kind,
        "header": list(scan.header),
        "columns": scan.columns,
        "rows": scan.rows,
        "malformed_rows": scan.malformed_rows,
        "non_utf8_rows": scan.non_utf8_rows,
        "first_malformed_lines": scan.first_malformed_lines,
        # The first malformed row's opening bytes (ingest.csv.scan.SAMPLE_BYTES), never the row.
        "malformed_sample": scan.malformed_sample or None,
        "uploaded_at": uploaded_at,
        "uploaded_by": uploaded_by,
        "checked_at": now,
        "history": [*_history(previous), entry][-HISTORY_LIMIT:],
    }
    await lake.write(manifest_key(date, path), orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
