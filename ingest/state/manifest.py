"""The manifest stage 1 keeps for each CSV file and date, under the date's ``csv/`` state.

It records what the last look at the file found (rows, malformed line numbers and a
bounded sample of the first malformed row, header, checksum) and its history: when these
bytes arrived in the lake and by which run (``uploaded_at``, ``uploaded_by``), and every
check since (``history``: action, time, hash, size, run; the last ``HISTORY_LIMIT``
kept). A rerun that skips the file adds to the history instead of overwriting the record
of the upload. A manifest from before the history was kept is read as version 0 and
upgraded (``ingest.state.versions``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from ingest.lake import Lake
from ingest.reports.counts import CsvFileResult
from ingest.state import keys
from ingest.state.versions import CURRENT, upgrade

HISTORY_LIMIT = 50
# What a manifest records of a validation scan: the fields ``recorded_scan`` gives back.
SCAN_FIELDS = (
    "size", "sha256", "header", "kind", "rows", "malformed_rows", "first_malformed_lines", "non_utf8_rows",
    "malformed_sample",
)  # fmt: skip


class Scan(Protocol):
    """What stage 1's validation found (``ingest.csv.scan.CsvScan``)."""

    size: int
    sha256: str
    crc64nvme: str
    header: tuple[str, ...]
    kind: str | None
    rows: int
    malformed_rows: int
    first_malformed_lines: list[int]
    non_utf8_rows: int
    malformed_sample: str

    @property
    def columns(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ManifestSummary:
    """What ``status`` reads of a manifest."""

    file: str
    key: str | None
    bytes: int | None
    sha256: str | None
    crc64nvme: str | None
    rows: int | None
    malformed_rows: int | None


def manifest_key(date: dt.date, path: Path | str) -> str:
    return keys.csv_manifest(date, Path(path).name)


async def read_manifest(lake: Lake, date: dt.date, path: Path | str) -> dict[str, Any] | None:
    """The manifest a previous run wrote for this file and date; None if none or unreadable."""
    return _parse(await lake.read(manifest_key(date, path)), manifest_key(date, path))


def _parse(raw: bytes | None, key: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        return upgrade("manifest", key, orjson.loads(raw))
    except (orjson.JSONDecodeError, TypeError):
        return None  # an unreadable manifest is re-derived, not trusted


async def manifests(lake: Lake, date: dt.date) -> list[ManifestSummary]:
    """Every CSV manifest of the date (an unreadable one: its file name alone)."""
    found = []
    for key in await lake.list(keys.csv_manifests(date)):
        name = keys.csv_manifest_file(key)
        if name is not None:
            found.append(_summary(name, _parse(await lake.read(key), key) or {}))
    return found


def _summary(name: str, m: dict[str, Any]) -> ManifestSummary:
    def number(field: str) -> int | None:
        value = m.get(field)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def text(field: str) -> str | None:
        value = m.get(field)
        return str(value) if value else None

    return ManifestSummary(
        file=text("file") or name,
        key=text("key"),
        bytes=number("bytes"),
        sha256=text("sha256"),
        crc64nvme=text("crc64nvme"),
        rows=number("rows"),
        malformed_rows=number("malformed_rows"),
    )


def same_bytes(manifest: dict[str, Any] | None, sha256: str, crc64nvme: str) -> bool:
    """Whether ``manifest`` is about the bytes with this checksum: the SHA-256 where the
    object is recorded by it, else S3's full-object CRC64NVME ("" for one not known)."""
    if manifest is None:
        return False
    if sha256:
        return bool(manifest.get("sha256") == sha256)
    return bool(crc64nvme) and manifest.get("crc64nvme") == crc64nvme


def recorded_scan(manifest: dict[str, Any] | None, sha256: str, crc64nvme: str = "") -> dict[str, Any] | None:
    """The validation a previous run recorded for these exact bytes (``SCAN_FIELDS``), if any."""
    if manifest is None or not same_bytes(manifest, sha256, crc64nvme):
        return None
    try:
        return {
            "size": int(manifest["bytes"]),
            "sha256": sha256,
            "header": tuple(manifest["header"]),
            "kind": manifest.get("kind"),
            "rows": int(manifest["rows"]),
            "malformed_rows": int(manifest["malformed_rows"]),
            "first_malformed_lines": [int(n) for n in manifest["first_malformed_lines"]],
            "non_utf8_rows": int(manifest.get("non_utf8_rows", 0)),
            "malformed_sample": str(manifest.get("malformed_sample") or ""),
        }
    except (KeyError, TypeError, ValueError):
        return None


def _arrival(previous: dict[str, Any] | None, scan: Scan) -> tuple[Any, Any]:
    """When and by which run the bytes now in the lake arrived, as a previous run saw it."""
    if previous is None or not same_bytes(previous, scan.sha256, scan.crc64nvme):
        return None, None
    return previous.get("uploaded_at"), previous.get("uploaded_by")


async def write_manifest(
    lake: Lake,
    date: dt.date,
    path: Path,
    scan: Scan,
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
    history = [h for h in (previous or {}).get("history", []) if isinstance(h, dict)]
    manifest = {
        "version": CURRENT["manifest"],
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
        "history": [*history, entry][-HISTORY_LIMIT:],
    }
    await lake.write(manifest_key(date, path), orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
