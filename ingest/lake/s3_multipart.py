"""The multipart half of ``S3Lake``: start, parts, complete, abort.

An upload first asks for a full-object CRC64NVME (``ChecksumType=FULL_OBJECT``): the
parts carry their own CRC64NVME and the completion the whole file's, which S3 checks and
keeps. A server that refuses it (an error, or an answer without it) is remembered for the
lake's lifetime and gets the fallback: the file's SHA-256 in ``x-amz-meta-sha256``, known
before the upload starts, and CRC32 parts. Either way any failure aborts the upload.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from botocore.exceptions import ClientError

from ingest.errors import LakeError
from ingest.lake import Sha256, UploadTuning, resolve_sha256
from ingest.lake.multipart import (
    CRC32,
    CRC64NVME,
    Checksum,
    check_unchanged,
    first_failure,
    part_size_for,
    upload_parts,
)
from ingest.lake.part_body import PartBody

log = structlog.get_logger(__name__)

# A server that does not take a full-object CRC64NVME answers one of these to the create.
_REFUSED = ("400", "501", "InvalidRequest", "InvalidArgument", "NotImplemented")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


class S3Multipart:
    """Needs of the lake it is part of: its client, bucket, tuning and retrying calls."""

    # False once the server refused a full-object CRC64NVME: later uploads of the run go
    # straight to the fallback instead of asking again.
    __slots__ = ("_full_object",)
    _client: Any
    _bucket: str
    _tuning: UploadTuning

    def _key(self, key: str) -> str:
        raise NotImplementedError

    async def _call(self, what: str, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        raise NotImplementedError

    async def _retrying(self, what: str, attempt_once: Callable[[], Awaitable[Any]]) -> Any:
        raise NotImplementedError

    async def _multipart(
        self,
        key: str,
        path: Path,
        source: tuple[int, int],
        sha256: Sha256,
        on_bytes: Callable[[int], None] | None,
    ) -> str | None:
        size = source[0]
        part_size = part_size_for(size, self._tuning.part_size)
        count = -(-size // part_size)
        upload_id = await self._start_beside_stale(key)
        algo: Checksum = CRC64NVME
        if upload_id is None:
            algo = CRC32
            created = await self._call(
                f"start upload of {key}",
                self._client.create_multipart_upload,
                Bucket=self._bucket,
                Key=self._key(key),
                Metadata={"sha256": await resolve_sha256(sha256)},
                ChecksumAlgorithm="CRC32",
                ContentType=CSV_CONTENT_TYPE,
            )
            upload_id = created["UploadId"]
        log.info(
            "multipart_started", key=key, parts=count, part_size=part_size, bytes=size, checksum=algo.name
        )

        async def send(number: int, region: Callable[[], PartBody], crc: str) -> Any:
            def attempt() -> Awaitable[Any]:
                body = region()
                return self._client.upload_part(  # type: ignore[no-any-return]
                    Bucket=self._bucket,
                    Key=self._key(key),
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                    ContentLength=body.length,
                    **{algo.field: crc},
                )

            return await self._retrying(f"upload part {number}/{count} of {key}", attempt)

        fd = os.open(path, os.O_RDONLY)
        try:
            parts, whole = await upload_parts(
                fd,
                str(path),
                size,
                part_size,
                self._tuning.parts_in_flight,
                send,
                on_bytes,
                algo=algo,
                whole=algo is CRC64NVME,
            )
            check_unchanged(path, source)
            full = {"ChecksumCRC64NVME": whole, "ChecksumType": "FULL_OBJECT"} if whole else {}
            done = await self._call(
                f"complete upload of {key}",
                self._client.complete_multipart_upload,
                Bucket=self._bucket,
                Key=self._key(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **full,
            )
            if whole and done.get("ChecksumCRC64NVME") not in (None, whole):
                raise LakeError(
                    f"S3 stored {key} with CRC64NVME {done['ChecksumCRC64NVME']}, the file's is {whole}"
                )
        except BaseException as exc:
            await asyncio.shield(self._abort(key, upload_id))
            first = first_failure(exc)
            if first is not exc:
                raise first from None
            raise
        finally:
            os.close(fd)
        log.info("multipart_completed", key=key, parts=count, bytes=size)
        return whole

    async def _create_full_object(self, key: str) -> str | None:
        """Start an upload whose whole-object CRC64NVME S3 checks and keeps; None (and no
        upload left open) when the server refuses one or answers without it."""

        async def attempt() -> Any:
            try:
                return await self._client.create_multipart_upload(
                    Bucket=self._bucket,
                    Key=self._key(key),
                    ChecksumAlgorithm="CRC64NVME",
                    ChecksumType="FULL_OBJECT",
                    ContentType=CSV_CONTENT_TYPE,
                )
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in _REFUSED:
                    return {"refused": str(exc)}
                raise

        created = await self._retrying(f"start upload of {key}", attempt)
        if created.get("ChecksumAlgorithm") == "CRC64NVME" and created.get("ChecksumType") == "FULL_OBJECT":
            return str(created["UploadId"])
        if "UploadId" in created:  # taken without the checksum: not one S3 would keep
            await self._abort(key, created["UploadId"])
        self._full_object = False
        log.warning(
            "s3_full_object_checksum_refused",
            key=key,
            answer=created.get("refused", "no full-object CRC64NVME in the answer"),
            fallback="SHA-256 in x-amz-meta-sha256, hashed before the upload; CRC32 parts",
        )
        return None

    async def _start_beside_stale(self, key: str) -> str | None:
        """Start the upload (``_create_full_object``, unless the server refused one before)
        while the uploads a killed run left open for ``key`` are listed: two round trips
        at once, not one after the other. Then those (never the one just started) are
        aborted. Returns the new upload's id, or None (the fallback is the caller's)."""
        created: asyncio.Task[str | None] | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                listed = tg.create_task(self._open_uploads(key))
                if self._full_object:
                    created = tg.create_task(self._create_full_object(key))
        except BaseExceptionGroup as group:
            if created is not None and created.done() and not created.cancelled() and not created.exception():
                if (upload_id := created.result()) is not None:
                    await asyncio.shield(self._abort(key, upload_id))
            raise first_failure(group) from None
        upload_id = None if created is None else created.result()
        await self._abort_stale_uploads(key, [u for u in listed.result() if u != upload_id])
        return upload_id

    async def _open_uploads(self, key: str) -> list[str]:
        """The ids of the multipart uploads open for exactly ``key``."""
        full = self._key(key)
        listed = await self._call(
            f"list open uploads of {key}",
            self._client.list_multipart_uploads,
            Bucket=self._bucket,
            Prefix=full,
        )
        return [u["UploadId"] for u in listed.get("Uploads", ()) if u.get("Key") == full]

    async def _abort_stale_uploads(self, key: str, stale: list[str]) -> None:
        """Abort the multipart uploads still open for ``key`` (a killed run's)."""
        full = self._key(key)
        for upload_id in stale:
            await self._call(
                f"abort stale upload of {key}",
                self._client.abort_multipart_upload,
                Bucket=self._bucket,
                Key=full,
                UploadId=upload_id,
            )
        if stale:
            log.info("stale_uploads_aborted", key=key, count=len(stale))

    async def _abort(self, key: str, upload_id: str) -> None:
        try:
            # Retried like any call: an abort that lands while parts are still arriving can
            # meet a transient 5xx, and an upload left open costs storage until it expires.
            # But within one request's time: on a store that stalls, the run's error (and
            # its exit) must not wait for an abort that cannot land either.
            async with asyncio.timeout(self._tuning.request_timeout_s):
                await self._call(
                    f"abort upload of {key}",
                    self._client.abort_multipart_upload,
                    Bucket=self._bucket,
                    Key=self._key(key),
                    UploadId=upload_id,
                )
            log.warning("multipart_aborted", key=key)
        except Exception as exc:  # the original failure matters more than this one
            log.error("multipart_abort_failed", key=key, upload_id=upload_id, error=str(exc))
