"""Stage 1: local CSV files into ``Raw/Local/CSV/<Name>/YYYY/MM/DD/<file>``, byte for byte.

For each file: if the lake holds an object of the same size, the file is hashed and
skipped when its checksum matches the object's record (its SHA-256, or the full-object
CRC64NVME S3 keeps); otherwise it is streamed up (multipart on S3) at once, while one
streaming pass on a core of its own validates it (``ingest.csv.beside``): nothing reads
the whole file before the first part is sent, and the SHA-256 is taken only where it is
the object's record. Afterwards the stored object's size and record are checked. A
manifest of what was found (rows, malformed line numbers, the checksum the object is
recorded by) and of when the bytes arrived and were
checked is kept in the lake's state for every file (``ingest.state.manifest``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from ingest.csv.beside import scan_beside
from ingest.csv.scan import CsvScan, hash_file, read_header
from ingest.errors import IngestError, InputError, LakeError
from ingest.lake import Lake, ObjectInfo
from ingest.lake.keys import csv_key
from ingest.reports.counts import CsvFileResult, RunReport
from ingest.reports.progress import Progress
from ingest.settings.config import Settings
from ingest.state.manifest import read_manifest, recorded_scan, write_manifest
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
    size: int
    sha256: str
    crc64nvme: str


def identify(path: Path) -> FileIdentity:
    """Size, SHA-256 and CRC64NVME of ``path`` in one read: what a rerun compares with an
    object already in the lake (hashlib and awscrt both release the GIL)."""
    size, sha256, crc64nvme = hash_file(path)
    return FileIdentity(size, sha256, crc64nvme)


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
        before = _fingerprint(path)
    except OSError as exc:
        raise InputError(f"CSV file {path} cannot be read: {exc.strerror}") from None
    size = before[0]
    existing, previous = await _look(lake, key, date, path)
    sha256 = _Sha256(path)
    try:
        scan: CsvScan | None = None
        crc64nvme: str | None = None
        if existing is not None and existing.size == size:
            # Only an object of the same size can be this file: hashing it first is then
            # all the work (the file goes up again only if the checksums differ).
            ident = await asyncio.to_thread(identify, path)
            sha256.value = ident.sha256
            if existing.holds(size, ident.sha256, ident.crc64nvme):
                log.info("csv_skipped", path=str(path), key=key, reason="same size and checksum in lake")
                # The manifest keeps the checksum the object is recorded by.
                crc64nvme = None if existing.sha256 else existing.crc64nvme
                known = (ident.sha256 if existing.sha256 else "", crc64nvme or "")
                recorded = recorded_scan(previous, *known)
                scan = CsvScan(**recorded) if recorded else await scan_beside(path, with_hash=False)
                scan.sha256 = known[0]
        if scan is None:
            scan, crc64nvme = await _upload_and_validate(lake, key, path, before, sha256, progress=progress)
            # The SHA-256 is taken only where the object is recorded by it (a lake asked).
            scan.sha256 = "" if crc64nvme else await sha256()
            action = "uploaded"
        else:
            action = "skipped"
    except ValueError as exc:
        raise InputError(f"{path} cannot be ingested: {exc}; the first line must be the header") from None
    except OSError as exc:
        raise InputError(f"CSV file {path} cannot be read: {exc.strerror}") from None
    scan.crc64nvme = crc64nvme or ""
    if _fingerprint(path) != before or scan.size != size:
        raise InputError.changed(path)
    if action == "uploaded":
        _check_stored(key, await lake.stat(key), scan)
    _log_scan(path, scan)
    seconds = time.monotonic() - started
    result = CsvFileResult(
        path=str(path),
        key=key,
        bytes=size,
        rows=scan.rows,
        sha256=scan.sha256,
        crc64nvme=scan.crc64nvme,
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


async def _look(
    lake: Lake, key: str, date: dt.date, path: Path
) -> tuple[ObjectInfo | None, dict[str, Any] | None]:
    """What the lake holds at ``key``, and the manifest a previous run left for the file:
    two requests at once (on a real link, two round trips become one)."""
    try:
        async with asyncio.TaskGroup() as tg:
            stat = tg.create_task(lake.stat(key))
            manifest = tg.create_task(read_manifest(lake, date, path))
    except* IngestError as group:
        raise group.exceptions[0] from None
    return stat.result(), manifest.result()


async def _upload_and_validate(
    lake: Lake, key: str, path: Path, before: tuple[int, int], sha256: _Sha256, *, progress: bool
) -> tuple[CsvScan, str | None]:
    """Stream the file up while the scan validates it beside the upload; a failure of
    either cancels both. The lake commits nothing unless the file still has the size and
    mtime of ``before``. Returns the scan and the object's CRC64NVME (None: the object is
    recorded by its SHA-256, which the lake then asked ``sha256`` for)."""
    bar = Progress(f"{path.name} -> lake", before[0], unit="bytes", enabled=progress)
    upload = lake.upload_file(key, path, sha256=sha256, on_bytes=bar.advance, source=before)
    try:
        async with asyncio.TaskGroup() as tg:
            uploaded = tg.create_task(upload)
            validation = tg.create_task(scan_beside(path, with_hash=False))
    except* IngestError as group:
        raise group.exceptions[0] from None
    except* (ValueError, OSError) as group:
        raise group.exceptions[0] from None
    finally:
        bar.close()
    return validation.result(), uploaded.result()


class _Sha256:
    """The file's SHA-256, taken the first time it is asked for and then kept. Only a lake
    that records it before the first byte asks (the S3 fallback, a single PUT, a
    directory); an object S3 records by its full-object CRC64NVME never needs it, and no
    pass over the file runs before its first part."""

    __slots__ = ("path", "value")

    def __init__(self, path: Path) -> None:
        self.path = path
        # "" until taken (or known from a rerun's look at the file).
        self.value = ""

    async def __call__(self) -> str:
        if not self.value:
            self.value = (await asyncio.to_thread(identify, self.path)).sha256
        return self.value


def _check_stored(key: str, stored: ObjectInfo | None, scan: CsvScan) -> None:
    """The object just written must hold the file: its size, and the record it carries."""
    if stored is None or not stored.holds(scan.size, scan.sha256 or None, scan.crc64nvme or None):
        held = (
            f"{stored.size} bytes (sha256 {stored.sha256}, crc64nvme {stored.crc64nvme})"
            if stored
            else "nothing"
        )
        raise LakeError(
            f"{key} holds {held} after upload, expected {scan.size} bytes "
            f"(sha256 {scan.sha256}, crc64nvme {scan.crc64nvme or None})"
        )


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
            hint="stored unchanged in the Raw zone; the file's manifest (lake state) lists the first lines",
        )
