"""Stage 1: local CSV files into ``Raw/Local/CSV/<Name>/YYYY/MM/DD/<file>``, byte for byte.

For each file: if the lake already holds an object of the same size and SHA-256 the file
is skipped (hashed only when the manifest of the last check cannot vouch for it by size and
mtime); otherwise it is streamed up (multipart on S3), hashed in the upload's own read,
while a thread validates it (``csv_scan``), and the stored size and SHA-256 are checked
afterwards. A manifest of what
was found (rows, malformed line numbers, hash) and of when the bytes arrived and were
checked is kept under ``_ingest/`` for every file (``ingest.csv.manifest``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from ingest.config import Settings
from ingest.csv.manifest import previous_scan, read_manifest, unchanged_since, write_manifest
from ingest.csv.scan import CsvScan, hash_file, read_header, scan_csv
from ingest.errors import IngestError, InputError, LakeError
from ingest.lake import Lake, ObjectInfo
from ingest.lake.keys import csv_key
from ingest.progress import Progress
from ingest.report import CsvFileResult, RunReport
from ingest.stop import Stop

log = structlog.get_logger(__name__)


def check_inputs(paths: Sequence[Path]) -> None:
    """Refuse, before anything is uploaded, any path stage 1 cannot ingest as it is."""
    keys: dict[str, Path] = {}
    for path in paths:
        if not path.exists():
            raise InputError(f"CSV file {path} does not exist: check the path given to --csv")
        if path.is_dir():
            raise InputError(f"{path} is a directory: give --csv the file itself, e.g. {path}/movies.csv")
        if not path.is_file():
            # A pipe or device has no size to check and cannot be read twice (hash, copy).
            raise InputError(
                f"{path} is not a regular file (a pipe, device or socket): save the data to a file "
                "and give --csv that file"
            )
        if not os.access(path, os.R_OK):
            raise InputError(f"CSV file {path} cannot be read: check its permissions")
        if path.stat().st_size == 0:
            raise InputError(f"CSV file {path} is empty: nothing to ingest; check the export")
        try:
            read_header(path)
        except ValueError as exc:
            raise InputError(f"{path} cannot be ingested: {exc}; the first line must be the header") from None
        key = csv_key(path.name, dt.date(2000, 1, 1))
        if key in keys:
            raise InputError(f"{keys[key]} and {path} would land under the same key: rename one of them")
        keys[key] = path


async def run_csv(
    lake: Lake,
    settings: Settings,
    report: RunReport,
    *,
    stop: Stop,
    progress: bool,
) -> bool:
    """Ingest every CSV file of the job; return True when none was left undone by a stop."""
    # Names this run in the manifests, which keep which run brought each file's bytes.
    run = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    for path in settings.job.csv:
        if stop.requested:
            log.warning("csv_stopped", reason=stop.reason, left=str(path))
            return False
        result = await ingest_file(lake, path, settings.date, progress=progress, run=run)
        report.csv.append(result)
    return True


async def ingest_file(
    lake: Lake,
    path: Path,
    date: dt.date,
    *,
    progress: bool,
    run: str = "",
) -> CsvFileResult:
    """Put one file in the lake unless it is already there; validate it on the way."""
    started = time.monotonic()
    key = csv_key(path.name, date)
    try:
        # (size, mtime) before anything is read: a file that changes afterwards is caught.
        before = _fingerprint(path)
    except OSError as exc:
        raise InputError(f"CSV file {path} cannot be read: {exc.strerror}") from None
    size = before[0]
    existing = await lake.stat(key)
    previous = await read_manifest(lake, date, path)
    try:
        scan: CsvScan | None
        known, skip_reason = await _already_in_lake(path, before, existing, previous)
        if skip_reason is not None and known is not None:
            log.info("csv_skipped", path=str(path), key=key, reason=skip_reason)
            sha256 = known
            scan = previous_scan(previous, sha256)
            if scan is None:
                scan = await asyncio.to_thread(scan_csv, path, with_hash=False)
            action = "skipped"
        else:
            sha256, scan = await _upload_and_validate(lake, key, path, size, known, progress=progress)
            action = "uploaded"
    except ValueError as exc:
        raise InputError(f"{path} cannot be ingested: {exc}; the first line must be the header") from None
    except OSError as exc:
        raise InputError(f"CSV file {path} cannot be read: {exc.strerror}") from None
    scan.sha256 = sha256
    if _fingerprint(path) != before or scan.size != size:
        raise InputError(f"{path} changed while it was being ingested: rerun once it is complete")
    if action == "uploaded":
        stored = await lake.stat(key)
        if stored is None or stored.size != size or stored.sha256 != sha256:
            raise LakeError(
                f"{key} holds {stored.size if stored else 'no'} bytes after upload "
                f"(SHA-256 {stored.sha256 if stored else None}), expected {size} bytes, {sha256}"
            )
    _log_scan(path, scan)
    seconds = time.monotonic() - started
    result = CsvFileResult(
        path=str(path),
        key=key,
        bytes=size,
        rows=scan.rows,
        sha256=sha256,
        action=action,
        malformed_rows=scan.malformed_rows,
        first_malformed_lines=list(scan.first_malformed_lines),
        seconds=round(seconds, 3),
    )
    await write_manifest(
        lake, date, path, scan, result, previous=previous, run=run or "unnamed", source_stat=before
    )
    log.info(
        "csv_ingested" if action == "uploaded" else "csv_checked",
        path=str(path),
        key=key,
        action=action,
        run=run,
        bytes=size,
        rows=scan.rows,
        seconds=round(seconds, 2),
        mb_per_s=round(size / 1e6 / seconds, 1) if seconds > 0 else None,
    )
    return result


async def _already_in_lake(
    path: Path,
    fingerprint: tuple[int, int],
    existing: ObjectInfo | None,
    previous: dict[str, Any] | None,
) -> tuple[str | None, str | None]:
    """(SHA-256 of the file if it was worked out, why the upload can be skipped or None).

    The file is hashed only when the lake holds an object of its size with a recorded
    SHA-256 and the manifest cannot vouch for it: a file whose size and mtime are those the
    manifest recorded when it last checked these very bytes is taken as unchanged."""
    if existing is None or existing.size != fingerprint[0] or not existing.sha256:
        return None, None
    if unchanged_since(previous, fingerprint, existing.sha256):
        return existing.sha256, "same size and mtime as when last checked, same sha256 in lake"
    _, sha256 = await asyncio.to_thread(hash_file, path)
    if sha256 == existing.sha256:
        return sha256, "same size and sha256 in lake"
    return sha256, None


async def _upload_and_validate(
    lake: Lake, key: str, path: Path, size: int, sha256: str | None, *, progress: bool
) -> tuple[str, CsvScan]:
    """Stream the file up (hashing it in the same read) while a thread validates it; a
    failure of either cancels both. Returns the SHA-256 of what was uploaded."""
    bar = Progress(f"{path.name} -> lake", size, unit="bytes", enabled=progress)
    try:
        async with asyncio.TaskGroup() as tg:
            uploading = tg.create_task(lake.upload_file(key, path, sha256=sha256, on_bytes=bar.advance))
            validation = tg.create_task(asyncio.to_thread(scan_csv, path, with_hash=False))
    except* IngestError as group:
        raise group.exceptions[0] from None
    except* (ValueError, OSError) as group:
        raise group.exceptions[0] from None
    finally:
        bar.close()
    return uploading.result(), validation.result()


def _fingerprint(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _log_scan(path: Path, scan: CsvScan) -> None:
    if scan.kind is None:
        log.warning(
            "csv_header_unrecognised",
            path=str(path),
            columns=scan.columns,
            hint="not the movies (15 columns) or series (16 columns) header; stored as given",
        )
    elif path.stem.lower() in ("movies", "series") and path.stem.lower() != scan.kind:
        log.warning("csv_header_mismatch", path=str(path), header_of=scan.kind)
    if scan.malformed_rows:
        log.warning(
            "csv_malformed_rows",
            path=str(path),
            malformed_rows=scan.malformed_rows,
            non_utf8_rows=scan.non_utf8_rows,
            expected_fields=scan.columns,
            first_lines=scan.first_malformed_lines,
            hint="stored unchanged in the Raw zone; see the manifest under _ingest/",
        )
