"""The lake as an S3 bucket (or LocalStack/moto through ``AWS_ENDPOINT_URL``), via aioboto3.

Large files go up as a streaming multipart upload: a bounded queue of part numbers and a
few part uploaders, each reading only its own part from disk (``os.pread``), so memory
stays near ``part_size x parts_in_flight`` whatever the file size. Every call is CRC32
checksummed explicitly (create, parts and complete agree, as recent botocore expects);
each part is retried with backoff on transient errors; any failure aborts the upload so
no open multipart upload is left behind. The file's SHA-256 goes in the object metadata
(``x-amz-meta-sha256``) so a rerun can tell the object is already there.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aioboto3
import aiohttp
import structlog
from aiobotocore.config import AioConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from ingest.errors import ConfigError, LakeError, RetryableError
from ingest.lake import ObjectInfo, UploadTuning

log = structlog.get_logger("ingest.lake.s3")

MAX_PARTS = 10_000
MIB = 1024 * 1024
_FATAL_ACCESS = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NoSuchBucket",
    "ExpiredToken",
    "InvalidToken",
}
_RETRYABLE_CODES = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "503"}
_TRANSPORT = (
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    ConnectTimeoutError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)


class FileRegion(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes of an open file from ``offset``.

    Handing the SDK this instead of the part's bytes lets it stream the part: the CRC32,
    the SigV4 payload hash and the HTTP body each read it in small chunks (and seek back),
    so a part in flight costs kilobytes, not ``part_size``. It reads with ``os.pread``, so
    parts sharing one descriptor never disturb each other's position. No ``fileno``: the
    SDK would take the whole file's size from it.
    """

    def __init__(self, fd: int, offset: int, length: int) -> None:
        super().__init__()
        self._fd = fd
        self._offset = offset
        self._length = length
        # Position within the region.
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = min(max(base + pos, 0), self._length)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._length - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._offset + self._pos)
        if not data:
            raise LakeError("the file shrank while it was being uploaded")
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        # One pread for the whole request instead of RawIOBase's readinto round trip.
        want = self._length - self._pos if size is None or size < 0 else size
        want = min(want, self._length - self._pos)
        if want <= 0:
            return b""
        data = os.pread(self._fd, want, self._offset + self._pos)
        if len(data) < want and self._pos + len(data) < self._length:
            raise LakeError("the file shrank while it was being uploaded")
        self._pos += len(data)
        return data


def part_size_for(size: int, wanted: int) -> int:
    """The smallest part size >= ``wanted`` (whole MiB) that fits ``size`` in 10,000 parts."""
    needed = -(-size // MAX_PARTS)
    return max(wanted, -(-needed // MIB) * MIB)


def classify(exc: BaseException, what: str) -> Exception:
    """Turn an SDK exception into this package's error tree (one place decides)."""
    if isinstance(exc, NoCredentialsError):
        return ConfigError(
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run with an instance/task role"
        )
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _FATAL_ACCESS:
            return ConfigError(
                f"S3 refused {what} ({code}): check the bucket name, the credentials and "
                "their policy, and AWS_ENDPOINT_URL"
            )
        if status >= 500 or code in _RETRYABLE_CODES:
            return RetryableError(f"S3 failed {what} ({code or status}), will retry")
        return LakeError(f"S3 refused {what} ({code or status}: {err.get('Message', '')})")
    if isinstance(exc, _TRANSPORT):
        return RetryableError(f"S3 connection failed during {what} ({type(exc).__name__})")
    if isinstance(exc, BotoCoreError):
        return LakeError(f"S3 client error during {what}: {exc}")
    return LakeError(f"unexpected error during {what}: {type(exc).__name__}: {exc}")


class S3Lake:
    __slots__ = ("_bucket", "_client", "_prefix", "_tuning")

    def __init__(self, client: Any, bucket: str, prefix: str, tuning: UploadTuning) -> None:
        self._client = client
        self._bucket = bucket
        # Keys are relative to the lake; the prefix (may be "") roots them in the bucket.
        self._prefix = prefix
        self._tuning = tuning

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, tuning: UploadTuning) -> AsyncIterator[S3Lake]:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigError(f"lake {url!r} has no bucket: use s3://bucket[/prefix]")
        prefix = prefix.strip("/")
        config = AioConfig(
            max_pool_connections=max(10, tuning.parts_in_flight * 2),
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
            request_checksum_calculation="when_supported",
        )
        session = aioboto3.Session()
        async with session.client("s3", config=config) as client:
            lake = cls(client, bucket, f"{prefix}/" if prefix else "", tuning)
            await lake._check_bucket()
            yield lake

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}".rstrip("/")

    async def _check_bucket(self) -> None:
        try:
            await self._client.head_bucket(Bucket=self._bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket"):
                raise ConfigError(
                    f"bucket {self._bucket!r} does not exist: create it "
                    f"(aws s3 mb s3://{self._bucket}) or fix --lake/INGEST_LAKE"
                ) from None
            if code in ("403", "AccessDenied"):
                raise ConfigError(
                    f"access to bucket {self._bucket!r} is denied: check the AWS credentials and their policy"
                ) from None
            raise classify(exc, f"checking bucket {self._bucket}") from None
        except (NoCredentialsError, *_TRANSPORT) as exc:
            if isinstance(exc, NoCredentialsError):
                raise classify(exc, "connect") from None
            endpoint = os.environ.get("AWS_ENDPOINT_URL", "AWS")
            raise ConfigError(
                f"cannot reach S3 at {endpoint} ({type(exc).__name__}): check AWS_ENDPOINT_URL "
                "and the network"
            ) from None

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def _call(self, what: str, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        """One SDK call with fixed arguments, retried while the failure is transient."""
        return await self._retrying(what, lambda: fn(**kwargs))

    async def _retrying(self, what: str, attempt_once: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``attempt_once`` until it succeeds, backing off with jitter between transient
        failures; anything else, or the last attempt's failure, is raised classified."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_once()
            except Exception as exc:
                err = classify(exc, what)
                if not isinstance(err, RetryableError) or attempt >= self._tuning.max_attempts:
                    raise err from exc
                delay = min(20.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random())
                log.warning(
                    "s3_call_retried", what=what, attempt=attempt, delay_s=round(delay, 2), error=str(err)
                )
                await asyncio.sleep(delay)

    async def stat(self, key: str) -> ObjectInfo | None:
        try:
            resp = await self._client.head_object(Bucket=self._bucket, Key=self._key(key))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise classify(exc, f"stat {key}") from None
        except Exception as exc:
            raise classify(exc, f"stat {key}") from None
        return ObjectInfo(
            key=key,
            size=int(resp["ContentLength"]),
            sha256=resp.get("Metadata", {}).get("sha256"),
        )

    async def read(self, key: str) -> bytes | None:
        try:
            resp = await self._client.get_object(Bucket=self._bucket, Key=self._key(key))
            async with resp["Body"] as body:
                data: bytes = await body.read()
                return data
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey"):
                return None
            raise classify(exc, f"read {key}") from None
        except Exception as exc:
            raise classify(exc, f"read {key}") from None

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

    async def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=self._key(prefix)):
                keys.extend(o["Key"][len(self._prefix) :] for o in page.get("Contents", ()))
        except Exception as exc:
            raise classify(exc, f"list {prefix}") from None
        return sorted(keys)

    async def upload_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: str,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        size = os.stat(path).st_size
        if size <= self._tuning.part_size:
            data = await asyncio.to_thread(path.read_bytes)
            await self.write(key, data, sha256=sha256)
            if on_bytes:
                on_bytes(len(data))
            return
        await self._multipart(key, path, size, sha256, on_bytes)

    async def _multipart(
        self,
        key: str,
        path: Path,
        size: int,
        sha256: str,
        on_bytes: Callable[[int], None] | None,
    ) -> None:
        part_size = part_size_for(size, self._tuning.part_size)
        count = -(-size // part_size)
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
        done: list[dict[str, Any]] = []
        # Part numbers waiting for an uploader: bounded, so the producer never runs ahead.
        queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=self._tuning.parts_in_flight)
        workers = min(self._tuning.parts_in_flight, count)
        fd = os.open(path, os.O_RDONLY)
        try:

            async def feed() -> None:
                for number in range(1, count + 1):
                    await queue.put(number)
                for _ in range(workers):
                    await queue.put(None)

            async def upload_parts() -> None:
                while (number := await queue.get()) is not None:
                    offset = (number - 1) * part_size
                    length = min(part_size, size - offset)
                    resp = await self._upload_part(key, upload_id, number, count, fd, offset, length)
                    part: dict[str, Any] = {"PartNumber": number, "ETag": resp["ETag"]}
                    if resp.get("ChecksumCRC32"):
                        part["ChecksumCRC32"] = resp["ChecksumCRC32"]
                    done.append(part)
                    if on_bytes:
                        on_bytes(length)

            async with asyncio.TaskGroup() as tg:
                tg.create_task(feed())
                for _ in range(workers):
                    tg.create_task(upload_parts())
            done.sort(key=lambda p: p["PartNumber"])
            await self._call(
                f"complete upload of {key}",
                self._client.complete_multipart_upload,
                Bucket=self._bucket,
                Key=self._key(key),
                UploadId=upload_id,
                MultipartUpload={"Parts": done},
            )
        except BaseException as exc:
            await asyncio.shield(self._abort(key, upload_id))
            if isinstance(exc, BaseExceptionGroup):
                # A TaskGroup wraps the first failure; surface it as itself.
                first = exc.exceptions[0]
                while isinstance(first, BaseExceptionGroup):
                    first = first.exceptions[0]
                if isinstance(first, Exception):
                    raise first from None
            raise
        finally:
            os.close(fd)
        log.info("multipart_completed", key=key, parts=count, bytes=size)

    async def _upload_part(
        self, key: str, upload_id: str, number: int, count: int, fd: int, offset: int, length: int
    ) -> Any:
        # A fresh region per attempt: a retried part starts again from its first byte.
        return await self._retrying(
            f"upload part {number}/{count} of {key}",
            lambda: self._client.upload_part(
                Bucket=self._bucket,
                Key=self._key(key),
                UploadId=upload_id,
                PartNumber=number,
                Body=FileRegion(fd, offset, length),
                ContentLength=length,
                ChecksumAlgorithm="CRC32",
            ),
        )

    async def _abort(self, key: str, upload_id: str) -> None:
        try:
            await self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key(key), UploadId=upload_id
            )
            log.warning("multipart_aborted", key=key)
        except Exception as exc:  # the original failure matters more than this one
            log.error("multipart_abort_failed", key=key, upload_id=upload_id, error=str(exc))
