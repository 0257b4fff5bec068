"""Prototypes of the faster CSV upload, run as ``python -m ingest`` with patches applied.

    .venv/bin/python bench/proto_upload.py VARIANT --csv FILE --lake s3://BUCKET [...]

Nothing under ``ingest/`` changes: this driver replaces a few functions at run time and
then calls ``ingest.cli.main``, so each variant is measured from outside exactly like
the pipeline. Variants (each includes the ones before it, but ``asis``):

- ``asis``: no patch; the driver's own cost.
- ``unsigned``: S3 client config ``payload_signing_enabled=False``: no SigV4 SHA-256 of
  every part over http endpoints (over https botocore already skips it); each part keeps
  its CRC32, which the server checks.
- ``mem``: each part read whole by one ``os.pread`` in a worker thread, its CRC32 taken
  there by ``zlib.crc32`` (which releases the GIL) and passed as ``ChecksumCRC32``, so
  botocore neither re-reads the part in 1 MiB steps on the event loop nor hashes it;
  the body handed to aiohttp is a BytesIO of the part, which aiohttp sends in drained
  256 KiB writes on the event loop instead of one thread hop per 256 KiB read.
- ``fold``: no SHA-256 pass before the upload: the reader thread reads parts in order and
  feeds the file's SHA-256 as it goes, so the upload starts at once. The object no longer
  carries ``x-amz-meta-sha256``; the SHA-256 and the completed upload's ETag go in the
  manifest under ``_ingest/``, and the read-back check compares size and ETag.
- ``all``: ``fold`` with the validation scan fed from the same reads (no second read of
  the file; the scan still runs in its own thread).

``PROTO_SCAN=process`` runs the validation scan in a process of its own at nice 19
instead of a thread (``fold`` only).

Environment: ``PROTO_INFLIGHT`` (parts being uploaded at once, default 6, or 8 streamed) bounds memory
at about (PROTO_INFLIGHT + 2) x part size; ``PROTO_BODY=stream`` keeps the body streaming
from disk (``FileRegion``, kilobytes per part) while the CRC32, the file's SHA-256 and the
scan still come from the one whole-part read.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import os
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

VARIANTS = ("asis", "unsigned", "mem", "fold", "all")
# "mem": the part's bytes are the body; "stream": the body streams from disk as today
# (ingest.lake.s3.FileRegion), the part read whole only to be hashed, then dropped.
BODY = os.environ.get("PROTO_BODY", "mem")
# "thread": the validation scan in a thread, as today; "process": in a process of its own
# at the lowest CPU priority (its own GIL; the upload and the server go first).
SCAN = os.environ.get("PROTO_SCAN", "thread")
# In memory, 6 parts in flight keep (6 + 2) x 8 MiB near the budget; streamed, the
# pipeline's own 8.
INFLIGHT = int(os.environ.get("PROTO_INFLIGHT", "8" if BODY == "stream" else "6"))


def _patch_unsigned() -> None:
    from aiobotocore.config import AioConfig

    import ingest.lake.s3 as s3mod

    class UnsignedConfig(AioConfig):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("s3", {"payload_signing_enabled": False})
            super().__init__(*args, **kwargs)

    s3mod.AioConfig = UnsignedConfig  # type: ignore[misc]


# One buffer for the reader, reused part after part (it reads one part at a time): a
# fresh 8 MiB bytes per part lands in glibc's per-thread arenas once the mmap threshold
# has grown, and RSS keeps ~30 MiB of them.
_PART_BUFFER = bytearray()


def _hash_part(fd: int, offset: int, length: int, digest: Any) -> tuple[io.RawIOBase, str]:
    from ingest.lake.s3 import FileRegion

    if len(_PART_BUFFER) < length:
        _PART_BUFFER.extend(bytes(length - len(_PART_BUFFER)))
    view = memoryview(_PART_BUFFER)[:length]
    if os.preadv(fd, [view], offset) != length:
        raise OSError("the file shrank while it was being uploaded")
    crc = base64.b64encode(zlib.crc32(view).to_bytes(4, "big")).decode()
    if digest is not None:
        digest.update(view)
    view.release()
    return FileRegion(fd, offset, length), crc


def _read_part(
    fd: int, offset: int, length: int, digest: Any, feed: Callable[[bytes], None] | None
) -> tuple[io.RawIOBase | io.BytesIO, str]:
    """One part, whole: read, CRC32 (GIL released), and the file hash/scan fed in order."""
    if BODY == "stream" and feed is None:
        return _hash_part(fd, offset, length, digest)
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise OSError("the file shrank while it was being uploaded")
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    if digest is not None:
        digest.update(data)
    if feed is not None:
        feed(data)
    # The body aiohttp sends: a BytesIO, which it writes in drained 256 KiB steps (handed
    # bytes, the transport would copy whatever the socket did not take at once). Its
    # getbuffer() unshares the bytes; doing that here, in the thread, and dropping the
    # bytes leaves one copy of the part in memory, not two.
    if BODY == "stream":
        from ingest.lake.s3 import FileRegion

        return FileRegion(fd, offset, length), crc
    body = io.BytesIO(data)
    body.getbuffer().release()
    return body, crc


async def _multipart_mem(
    self: Any,
    key: str,
    path: Path,
    size: int,
    sha256: str | None,
    on_bytes: Callable[[int], None] | None,
    digest: Any = None,
    feed: Callable[[bytes], None] | None = None,
) -> str:
    from ingest.lake.s3 import part_size_for

    part_size = part_size_for(size, self._tuning.part_size)
    count = -(-size // part_size)
    created = await self._call(
        f"start upload of {key}",
        self._client.create_multipart_upload,
        Bucket=self._bucket,
        Key=self._key(key),
        Metadata={"sha256": sha256} if sha256 else {},
        ChecksumAlgorithm="CRC32",
    )
    upload_id = created["UploadId"]
    done: list[dict[str, Any]] = []
    workers = min(INFLIGHT, count)
    # Parts read ahead of the uploaders: one, so memory is (workers + 2) parts at most.
    queue: asyncio.Queue[tuple[int, int, io.RawIOBase | io.BytesIO, str] | None] = asyncio.Queue(maxsize=1)
    fd = os.open(path, os.O_RDONLY)
    try:

        async def read_parts() -> None:
            for number in range(1, count + 1):
                offset = (number - 1) * part_size
                length = min(part_size, size - offset)
                data, crc = await asyncio.to_thread(_read_part, fd, offset, length, digest, feed)
                await queue.put((number, length, data, crc))
            for _ in range(workers):
                await queue.put(None)

        async def upload_parts() -> None:
            while (item := await queue.get()) is not None:
                number, length, body, crc = item
                resp = await _send_part(self, key, upload_id, (number, count), body, length, crc)
                done.append({"PartNumber": number, "ETag": resp["ETag"], "ChecksumCRC32": crc})
                if on_bytes:
                    on_bytes(length)
                del body, item

        async with asyncio.TaskGroup() as tg:
            tg.create_task(read_parts())
            for _ in range(workers):
                tg.create_task(upload_parts())
        done.sort(key=lambda p: p["PartNumber"])
        completed = await self._call(
            f"complete upload of {key}",
            self._client.complete_multipart_upload,
            Bucket=self._bucket,
            Key=self._key(key),
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
        )
    except BaseException:
        await asyncio.shield(self._abort(key, upload_id))
        raise
    finally:
        os.close(fd)
    return str(completed.get("ETag", ""))


async def _send_part(
    self: Any,
    key: str,
    upload_id: str,
    place: tuple[int, int],
    body: io.RawIOBase | io.BytesIO,
    length: int,
    crc: str,
) -> Any:
    number, count = place

    def attempt() -> Any:
        body.seek(0)  # a retried part starts again from its first byte
        return self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key(key),
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ContentLength=length,
            ChecksumCRC32=crc,
        )

    return await self._retrying(f"upload part {number}/{count} of {key}", attempt)


def _patch_mem() -> None:
    from ingest.lake.s3 import S3Lake

    async def multipart(self: Any, key: str, path: Path, source: Any, sha256: str, on_bytes: Any) -> None:
        # S3Lake._multipart takes the file's (size, mtime_ns) since phase B; an int before.
        size = source[0] if isinstance(source, tuple) else source
        await _multipart_mem(self, key, path, size, sha256, on_bytes)

    S3Lake._multipart = multipart  # type: ignore[method-assign]


class _ScanFeed:
    """The validation scan of ingest.csv.scan, fed part by part instead of reading the file."""

    def __init__(self) -> None:
        from ingest.csv.scan import CsvScan

        self.scan = CsvScan()
        self.checker: Any = None
        self.carry = b""

    def __call__(self, chunk: bytes) -> None:
        from ingest.csv.scan import _Checker, _read_header

        self.scan.size += len(chunk)
        data = self.carry + chunk if self.carry else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self.carry = data
            return
        block, self.carry = data[:cut], data[cut + 1 :]
        if self.checker is None:
            header_line, _, block = block.partition(b"\n")
            self.checker = _Checker(self.scan, _read_header(self.scan, header_line))
            if not block:
                return
        self.checker.block(block)

    def finish(self) -> Any:
        if self.carry:
            self.checker.block(self.carry)
        return self.scan


_SCAN_CHILD = """
import dataclasses, json, os, sys
from pathlib import Path
os.nice(19)
from ingest.csv.scan import scan_csv
print(json.dumps(dataclasses.asdict(scan_csv(Path(sys.argv[1]), with_hash=False))))
"""


async def _scan_in_process(path: Path) -> Any:
    from ingest.csv.scan import CsvScan

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SCAN_CHILD, str(path), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise ValueError("the validation process failed")
    fields = orjson_loads(out)
    fields["header"] = tuple(fields["header"])
    return CsvScan(**fields)


async def _scan(path: Path) -> Any:
    from ingest.csv.scan import scan_csv

    if SCAN == "process":
        return await _scan_in_process(path)
    return await asyncio.to_thread(scan_csv, path, with_hash=False)


def orjson_loads(data: bytes) -> Any:
    import orjson

    return orjson.loads(data)


def _patch_fold(feed_scan: bool) -> None:
    """Replace stage 1's per-file function by one that hashes during the upload."""
    import orjson

    import ingest.csv.stage as stage
    import ingest.job as job
    from ingest.csv.manifest import manifest_key
    from ingest.errors import InputError, LakeError
    from ingest.lake.keys import csv_key
    from ingest.report import CsvFileResult

    job.start_hashing = lambda paths: {}  # nothing hashed up front

    async def _prev(lake: Any, date: dt.date, path: Path) -> dict[str, Any] | None:
        raw = await lake.read(manifest_key(date, path))
        return orjson.loads(raw) if raw else None

    async def ingest_file(
        lake: Any, path: Path, date: dt.date, *, progress: bool, identity: Any = None, run: str = ""
    ) -> Any:
        started = time.monotonic()
        key = csv_key(path.name, date)
        before = stage._fingerprint(path)
        size = before[0]
        head = await _head(lake, key)
        prev = await _prev(lake, date, path) if head else None
        if head and prev and prev.get("bytes") == size and prev.get("etag") == head["ETag"]:
            # Same source file as the last upload (size and mtime), or same bytes: skip.
            if prev.get("fingerprint") == list(before):
                sha256 = prev["sha256"]
            else:
                sha256 = (await asyncio.to_thread(stage.identify, path)).sha256
            if sha256 == prev["sha256"]:
                scan = await stage._previous_scan(lake, date, path, sha256)
                assert scan is not None
                return await _finish(lake, path, date, key, scan, size, sha256, "skipped", started, head)
        digest = hashlib.sha256()
        feed = _ScanFeed() if feed_scan else None
        async with asyncio.TaskGroup() as tg:
            up = tg.create_task(_multipart_mem(lake, key, path, size, None, None, digest, feed))
            scan_task = None if feed else tg.create_task(_scan(path))
        scan = feed.finish() if feed else scan_task.result()  # type: ignore[union-attr]
        sha256 = digest.hexdigest()
        if stage._fingerprint(path) != before or scan.size != size:
            raise InputError(f"{path} changed while it was being ingested: rerun once it is complete")
        head = await _head(lake, key)
        if head is None or head["ContentLength"] != size or head["ETag"] != up.result():
            raise LakeError(f"{key} does not hold what was uploaded: rerun to upload it again")
        return await _finish(lake, path, date, key, scan, size, sha256, "uploaded", started, head, before)

    async def _head(lake: Any, key: str) -> Any:
        try:
            return await lake._client.head_object(Bucket=lake._bucket, Key=lake._key(key))
        except Exception:
            return None

    async def _finish(
        lake: Any,
        path: Path,
        date: dt.date,
        key: str,
        scan: Any,
        size: int,
        sha256: str,
        action: str,
        started: float,
        head: Any,
        fingerprint: tuple[int, int] | None = None,
    ) -> Any:
        scan.sha256 = sha256
        result = CsvFileResult(
            path=str(path),
            key=key,
            bytes=size,
            rows=scan.rows,
            sha256=sha256,
            action=action,
            malformed_rows=scan.malformed_rows,
            first_malformed_lines=list(scan.first_malformed_lines),
            seconds=round(time.monotonic() - started, 3),
        )
        if action == "uploaded":
            await stage.write_manifest(lake, date, path, scan, result, previous=None, run="proto")
            # Prototype only: the two new manifest fields, added by a rewrite.
            m = orjson.loads(await lake.read(manifest_key(date, path)))
            m.update(etag=head["ETag"], fingerprint=list(fingerprint or ()))
            await lake.write(manifest_key(date, path), orjson.dumps(m, option=orjson.OPT_INDENT_2))
        return result

    stage.ingest_file = ingest_file


def main() -> int:
    variant = sys.argv[1]
    if variant not in VARIANTS:
        print(f"proto_upload: unknown variant {variant!r}: one of {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    level = VARIANTS.index(variant)
    if level >= 1:
        _patch_unsigned()
    if level >= 2:
        _patch_mem()
    if level >= 3:
        _patch_fold(feed_scan=level >= 4)
    from ingest.cli import main as ingest_main

    return ingest_main(sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
