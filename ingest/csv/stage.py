"""Stage 1: local CSV files into ``Raw/Local/CSV/<Name>/YYYY/MM/DD/<file>``, byte for byte.

For each file: one streaming pass hashes and validates it (``csv_scan``); if the lake
already holds an object of the same size and SHA-256 the file is skipped; otherwise it is
streamed up (multipart on S3) and the stored size checked afterwards. A manifest of what
was found (rows, malformed line numbers, hash) and of when the bytes arrived and were
checked is kept under ``_ingest/`` for every file (``ingest.csv.manifest``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from ingest.config import Settings
from ingest.csv.manifest import previous_scan, read_manifest, write_manifest
from ingest.csv.scan import CsvScan, hash_file, read_header, scan_csv
from ingest.errors import IngestError, InputError, LakeError
from ingest.lake import Lake
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


@dataclass(frozen=True, slots=True)
class FileIdentity:
    # (size, mtime) when hashing began: a file that changes afterwards is caught.
    fingerprint: tuple[int, int]
    size: int
    sha256: str


def identify(path: Path) -> FileIdentity:
    before = _fingerprint(path)
    size, sha256 = hash_file(path)
    return FileIdentity(before, size, sha256)


def start_hashing(paths: Sequence[Path]) -> dict[Path, asyncio.Future[FileIdentity]]:
    """Hash every file in worker threads from now on (hashlib runs outside the GIL), so the
    hashing overlaps whatever the run does before it needs them, such as importing and
    building the S3 client. Futures, not tasks: nothing to cancel if the run never gets
    that far; a thread finishes its file and its result is dropped."""
    loop = asyncio.get_running_loop()
    return {path: loop.run_in_executor(None, identify, path) for path in dict.fromkeys(paths)}


async def run_csv(
    lake: Lake,
    settings: Settings,
    report: RunReport,
    *,
    stop: Stop,
    progress: bool,
    hashing: Mapping[Path, Awaitable[FileIdentity]] | None = None,
) -> bool:
    """Ingest every CSV file of the job; return True when none was left undone by a stop."""
    hashing = hashing or {}
    # Names this run in the manifests, which keep which run brought each file's bytes.
    run = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    for path in settings.job.csv:
        if stop.requested:
            log.warning("csv_stopped", reason=stop.reason, left=str(path))
            return False
        result = await ingest_file(
            lake, path, settings.date, progress=progress, identity=hashing.get(path), run=run
        )
        report.csv.append(result)
    return True


async def ingest_file(
    lake: Lake,
    path: Path,
    date: dt.date,
    *,
    progress: bool,
    identity: Awaitable[FileIdentity] | None = None,
    run: str = "",
) -> CsvFileResult:
    """Put one file in the lake unless it is already there; validate it on the way."""
    started = time.monotonic()
    key = csv_key(path.name, date)
    try:
        # Hashing first is cheap (hashlib runs outside the GIL at memory speed) and is what
        # lets the object carry its SHA-256 from the start and a rerun skip it.
        ident = await (identity or asyncio.to_thread(identify, path))
    except OSError as exc:
        raise InputError(f"CSV file {path} cannot be read: {exc.strerror}") from None
    before, size, sha256 = ident.fingerprint, ident.size, ident.sha256
    existing = await lake.stat(key)
    previous = await read_manifest(lake, date, path)
    try:
        scan: CsvScan | None
        if existing and existing.size == size and existing.sha256 == sha256:
            log.info("csv_skipped", path=str(path), key=key, reason="same size and sha256 in lake")
            scan = previous_scan(previous, sha256)
            if scan is None:
                scan = await asyncio.to_thread(scan_csv, path, with_hash=False)
            action = "skipped"
        else:
            scan = await _upload_and_validate(lake, key, path, ident, progress=progress)
            action = "uploaded"
    except ValueError as exc:
        raise InputError(f"{path} cannot be ingested: {exc}; the first line must be the header") from None
    except OSError as exc:
        raise InputError(f"CSV file {path} cannot be read: {exc.strerror}") from None
    scan.sha256 = sha256
    if _fingerprint(path) != before or scan.size != size:
        raise InputError.changed(path)
    if action == "uploaded":
        stored = await lake.stat(key)
        if stored is None or stored.size != size or stored.sha256 != sha256:
            raise LakeError(
                f"{key} holds {stored.size if stored else 'no'} bytes after upload, expected {size}"
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
    await write_manifest(lake, date, path, scan, result, previous=previous, run=run or "unnamed")
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


async def _upload_and_validate(
    lake: Lake, key: str, path: Path, ident: FileIdentity, *, progress: bool
) -> CsvScan:
    """Stream the file up while a thread validates it; a failure of either cancels both.
    The lake commits nothing unless the file is still what was hashed (``ident``)."""
    bar = Progress(f"{path.name} -> lake", ident.size, unit="bytes", enabled=progress)
    upload = lake.upload_file(key, path, sha256=ident.sha256, on_bytes=bar.advance, source=ident.fingerprint)
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(upload)
            validation = tg.create_task(asyncio.to_thread(scan_csv, path, with_hash=False))
    except* IngestError as group:
        raise group.exceptions[0] from None
    except* (ValueError, OSError) as group:
        raise group.exceptions[0] from None
    finally:
        bar.close()
    return validation.result()


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
