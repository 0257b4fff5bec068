"""The lake as an S3 bucket (or LocalStack/moto through ``AWS_ENDPOINT_URL``), via aioboto3.

Large files go up as a streaming multipart upload (``ingest.lake.multipart``), whose reader
computes each part's CRC32 for botocore. Every call is CRC32 checksummed (create, parts and
complete agree, as recent botocore expects). One retry layer, ours: botocore's retries are
off, and every call (each part on its own) is tried at most ``UploadTuning.max_attempts``
times, waiting ``BACKOFF`` between transient failures (``ingest.aws_errors``); each
attempt has ``request_timeout_s`` in all and each call (a part) ``part_budget_s``, so a
store that stalls ends the run instead of holding it; the last error says the retries ran
out, and retries show at INFO as a periodic ``requests_retried``
summary. Any failure aborts the upload, and an upload a killed run left open is aborted
before the same key is uploaded again. The file's SHA-256 goes in the object metadata
(``x-amz-meta-sha256``) so a rerun can tell the object is already there.
``create`` is a conditional put (``If-None-Match: *``): 412 means the key is taken; it is
used only on a store found to honour the header (``ingest.lake.conditional``).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aioboto3
import structlog
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from ingest.aws_errors import DeadlinePassed, retrying
from ingest.errors import ConfigError, RetryableError
from ingest.lake import ObjectInfo, UploadTuning
from ingest.lake.bucket import S3, check_bucket
from ingest.lake.conditional import ConditionalWrites
from ingest.lake.multipart import FileRegion, check_unchanged, first_failure, part_size_for, upload_parts
from ingest.retry import Backoff, RetrySummary

__all__ = ["BACKOFF", "S3Lake", "part_size_for"]

log = structlog.get_logger(__name__)

# Waits between attempts of one S3 call; tests shorten it.
BACKOFF = Backoff(base_s=0.25, cap_s=20.0)
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
# A conditional write found the key taken.
_TAKEN = ("412", "PreconditionFailed")


class S3Lake:
    __slots__ = ("_bucket", "_client", "_conditional", "_prefix", "_retries", "_rng", "_tuning")

    def __init__(self, client: Any, bucket: str, prefix: str, tuning: UploadTuning) -> None:
        self._client = client
        self._bucket = bucket
        # Keys are relative to the lake; the prefix (may be "") roots them in the bucket.
        self._prefix = prefix
        self._tuning = tuning
        self._retries = RetrySummary("s3")
        self._rng = random.Random()
        self._conditional = ConditionalWrites(f"s3://{bucket}", single_writer=tuning.single_writer)

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, tuning: UploadTuning) -> AsyncIterator[S3Lake]:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigError(f"lake {url!r} has no bucket: use s3://bucket[/prefix]")
        prefix = prefix.strip("/")
        config = AioConfig(
            max_pool_connections=max(10, tuning.parts_in_flight * 2),
            # One retry layer: ours (S3Lake._retrying), with the configured budget.
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
            request_checksum_calculation="when_supported",
            # UNSIGNED-PAYLOAD (as over https): no 2nd SHA-256 of each part; CRC32 covers it.
            s3={"payload_signing_enabled": False},
        )
        session = aioboto3.Session()
        async with session.client("s3", config=config) as client:
            lake = cls(client, bucket, f"{prefix}/" if prefix else "", tuning)
            await check_bucket(client, bucket)
            try:
                yield lake
            finally:
                lake._retries.flush()

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def _call(self, what: str, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        """One SDK call with fixed arguments, retried while the failure is transient."""
        return await self._retrying(what, lambda: fn(**kwargs))

    async def _retrying(self, what: str, attempt_once: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``attempt_once`` (within ``request_timeout_s`` each time) until it
        succeeds, retried while the failure is transient (``ingest.aws_errors.retrying``);
        the whole call, waits included, has ``part_budget_s``: a store that stalls is left."""
        limit = self._tuning.request_timeout_s

        async def bounded() -> Any:
            # A total per attempt: botocore's read timeout is per read, a stall between
            # reads or a drip never trips it.
            deadline = asyncio.timeout(limit)
            try:
                async with deadline:
                    return await attempt_once()
            except TimeoutError:
                if deadline.expired():
                    raise DeadlinePassed(f"no answer within {limit:g} s") from None
                raise

        budget = asyncio.timeout(self._tuning.part_budget_s)
        try:
            async with budget:
                return await retrying(
                    S3,
                    what,
                    bounded,
                    attempts=self._tuning.max_attempts,
                    backoff=BACKOFF,
                    rng=self._rng,
                    summary=self._retries,
                )
        except TimeoutError:
            if not budget.expired():
                raise
            raise RetryableError(
                f"S3 {what} did not succeed within its {self._tuning.part_budget_s:g} s budget "
                "([upload] part_budget_s): the store is stalled or very slow"
            ) from None

    async def stat(self, key: str) -> ObjectInfo | None:
        async def head() -> Any:
            try:
                return await self._client.head_object(Bucket=self._bucket, Key=self._key(key))
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                    return None
                raise

        resp = await self._retrying(f"stat {key}", head)
        if resp is None:
            return None
        return ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            sha256=resp.get("Metadata", {}).get("sha256"),
        )

    async def read(self, key: str) -> bytes | None:
        async def get() -> bytes | None:
            try:
                resp = await self._client.get_object(Bucket=self._bucket, Key=self._key(key))
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                    return None
                raise
            async with resp["Body"] as body:
                data: bytes = await body.read()
                return data

        result: bytes | None = await self._retrying(f"read {key}", get)
        return result

    async def write(self, key: str, data: bytes, *, sha256: str | None = None) -> None:
        await self._call(
            f"write {key}",
            self._client.put_object,
            Bucket=self._bucket,
            Key=self._key(key),
            Body=data,
            Metadata={"sha256": sha256} if sha256 else {},
            ChecksumAlgorithm="CRC32",
        )

    async def create(self, key: str, data: bytes) -> bool:
        # Only on a store known to honour If-None-Match (or a lake declared single-writer).
        await self._conditional.ensure(self)
        return await self.put_if_absent(key, data)

    async def put_if_absent(self, key: str, data: bytes) -> bool:
        """A conditional put as the store takes it: the probe's tool, and create's."""

        async def put_if_absent() -> bool:
            try:
                await self._client.put_object(
                    Bucket=self._bucket,
                    Key=self._key(key),
                    Body=data,
                    IfNoneMatch="*",
                    ChecksumAlgorithm="CRC32",
                )
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) in _TAKEN:
                    return False
                raise
            return True

        created: bool = await self._retrying(f"create {key}", put_if_absent)
        return created

    async def list(self, prefix: str) -> list[str]:
        async def listing() -> list[str]:
            keys: list[str] = []
            paginator = self._client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=self._key(prefix)):
                keys.extend(o["Key"][len(self._prefix) :] for o in page.get("Contents", ()))
            return keys

        return sorted(await self._retrying(f"list {prefix}", listing))

    async def upload_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: str,
        on_bytes: Callable[[int], None] | None = None,
        source: tuple[int, int] | None = None,
    ) -> None:
        # Nothing is committed unless the file still has the size and mtime it had when it
        # was hashed, once read: one PUT or a multipart upload alike.
        if source is None:
            start = os.stat(path)
            source = (start.st_size, start.st_mtime_ns)
        if source[0] <= self._tuning.part_size:
            data = await asyncio.to_thread(path.read_bytes)
            check_unchanged(path, source)
            await self.write(key, data, sha256=sha256)
            if on_bytes:
                on_bytes(len(data))
            return
        await self._multipart(key, path, source, sha256, on_bytes)

    async def _multipart(
        self,
        key: str,
        path: Path,
        source: tuple[int, int],
        sha256: str,
        on_bytes: Callable[[int], None] | None,
    ) -> None:
        size = source[0]
        part_size = part_size_for(size, self._tuning.part_size)
        count = -(-size // part_size)
        await self._abort_stale_uploads(key)
        created = await self._call(
            f"start upload of {key}",
            self._client.create_multipart_upload,
            Bucket=self._bucket,
            Key=self._key(key),
            Metadata={"sha256": sha256},
            ChecksumAlgorithm="CRC32",
        )
        upload_id = created["UploadId"]
        log.info("multipart_started", key=key, parts=count, part_size=part_size, bytes=size)

        async def send(number: int, region: Callable[[], FileRegion], crc32: str) -> Any:
            def attempt() -> Awaitable[Any]:
                body = region()
                return self._client.upload_part(  # type: ignore[no-any-return]
                    Bucket=self._bucket,
                    Key=self._key(key),
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=body,
                    ContentLength=body.length,
                    ChecksumCRC32=crc32,
                )

            return await self._retrying(f"upload part {number}/{count} of {key}", attempt)

        fd = os.open(path, os.O_RDONLY)
        try:
            parts = await upload_parts(
                fd, str(path), size, part_size, self._tuning.parts_in_flight, send, on_bytes
            )
            check_unchanged(path, source)
            await self._call(
                f"complete upload of {key}",
                self._client.complete_multipart_upload,
                Bucket=self._bucket,
                Key=self._key(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
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

    async def _abort_stale_uploads(self, key: str) -> None:
        """Abort the multipart uploads still open for exactly ``key`` (a killed run's)."""
        full = self._key(key)
        listed = await self._call(
            f"list open uploads of {key}",
            self._client.list_multipart_uploads,
            Bucket=self._bucket,
            Prefix=full,
        )
        stale = [u["UploadId"] for u in listed.get("Uploads", ()) if u.get("Key") == full]
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
