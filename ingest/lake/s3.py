"""The lake as an S3 bucket (or LocalStack/moto through ``AWS_ENDPOINT_URL``), via
aiobotocore's client (aioboto3's, without boto3's session and transfer modules: a run
never uses them, and importing them cost every run about 0.03 s of CPU).

Large files go up as a streaming multipart upload (``ingest.lake.multipart``,
``ingest.lake.s3_multipart``) whose reader computes each part's checksum for botocore and
the whole file's CRC64NVME, which S3 checks at completion and keeps as the object's
full-object checksum (``head-object --checksum-mode ENABLED`` shows it): that is the
object's record, and nothing reads the file before the first part goes. A server that
refuses a full-object CRC64NVME gets the file's SHA-256 in the object metadata
(``x-amz-meta-sha256``) instead, hashed before the upload starts, and CRC32 parts; so do
small files, sent in one PUT. CSV objects are stored as ``text/csv; charset=utf-8``. Every
other call is CRC32 checksummed. One retry layer, ours: botocore's retries are
off, and every call (each part on its own) is tried at most ``UploadTuning.max_attempts``
times, waiting ``BACKOFF`` between transient failures (``ingest.remote.aws_errors``); each
attempt has ``request_timeout_s`` in all and each call (a part) ``part_budget_s``, so a
store that stalls ends the run instead of holding it; the last error says the retries ran
out, and retries show at INFO as a periodic ``requests_retried``
summary. Any failure aborts the upload, and an upload a killed run left open is aborted
before the same key is uploaded again.
``create`` is a conditional put (``If-None-Match: *``): 412 means the key is taken; it is
used only on a store found to honour the header (``ingest.lake.conditional``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from botocore.utils import parse_timestamp

from ingest.errors import ConfigError, RetryableError
from ingest.lake import ObjectInfo, Sha256, StoreMeta, UploadTuning, resolve_sha256
from ingest.lake.bucket import S3, check_bucket
from ingest.lake.conditional import ConditionalWrites
from ingest.lake.multipart import check_unchanged, part_size_for
from ingest.lake.s3_multipart import CSV_CONTENT_TYPE, S3Multipart
from ingest.remote.aws_errors import DeadlinePassed, retrying
from ingest.remote.retry import Backoff, RetrySummary

__all__ = ["BACKOFF", "S3Lake", "part_size_for"]

log = structlog.get_logger(__name__)

# Waits between attempts of one S3 call; tests shorten it.
BACKOFF = Backoff(base_s=0.25, cap_s=20.0)
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
# A conditional write found the key taken.
_TAKEN = ("412", "PreconditionFailed")


class S3Lake(S3Multipart):
    __slots__ = ("_bucket", "_client", "_conditional", "_prefix", "_retries", "_rng", "_tuning")

    def __init__(self, client: Any, bucket: str, prefix: str, tuning: UploadTuning, meta: StoreMeta) -> None:
        self._client = client
        self._bucket = bucket
        # Keys are relative to the lake; the prefix (may be "") roots them in the bucket.
        self._prefix = prefix
        self._tuning = tuning
        self._retries = RetrySummary("s3")
        self._rng = random.Random()
        self._conditional = ConditionalWrites(f"s3://{bucket}", meta, single_writer=tuning.single_writer)
        # False once the server refused a full-object CRC64NVME (``S3Multipart``).
        self._full_object = True

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, tuning: UploadTuning, meta: StoreMeta) -> AsyncIterator[S3Lake]:
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
        session = get_session()
        # A listing page carries 1,000 ``LastModified`` times that nothing here reads:
        # botocore parses each with dateutil, most of a listing's client CPU.
        session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_timestamp)
        async with session.create_client("s3", config=config) as client:
            lake = cls(client, bucket, f"{prefix}/" if prefix else "", tuning, meta)
            await check_bucket(client, bucket, lambda head: lake._retrying(f"checking bucket {bucket}", head))
            try:
                yield lake
            finally:
                lake._retries.flush()

    @property
    def url(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}".rstrip("/")

    @property
    def location(self) -> str:
        return self.url

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def _call(self, what: str, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        """One SDK call with fixed arguments, retried while the failure is transient."""
        return await self._retrying(what, lambda: fn(**kwargs))

    async def _retrying(self, what: str, attempt_once: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``attempt_once`` (within ``request_timeout_s`` each time) until it
        succeeds, retried while the failure is transient (``ingest.remote.aws_errors.retrying``);
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
                return await self._client.head_object(
                    Bucket=self._bucket, Key=self._key(key), ChecksumMode="ENABLED"
                )
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
            crc64nvme=resp.get("ChecksumCRC64NVME"),
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

    async def write(
        self, key: str, data: bytes, *, sha256: str | None = None, content_type: str | None = None
    ) -> None:
        await self._call(
            f"write {key}",
            self._client.put_object,
            Bucket=self._bucket,
            Key=self._key(key),
            Body=data,
            Metadata={"sha256": sha256} if sha256 else {},
            ChecksumAlgorithm="CRC32",
            **({"ContentType": content_type} if content_type else {}),
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
        sha256: Sha256,
        on_bytes: Callable[[int], None] | None = None,
        source: tuple[int, int] | None = None,
    ) -> str | None:
        # Nothing is committed unless the file still has the size and mtime it had when it
        # was first looked at, once read: one PUT or a multipart upload alike.
        if source is None:
            start = os.stat(path)
            source = (start.st_size, start.st_mtime_ns)
        if source[0] <= self._tuning.part_size:
            data = await asyncio.to_thread(path.read_bytes)
            check_unchanged(path, source)
            digest = await resolve_sha256(sha256)
            await self.write(key, data, sha256=digest, content_type=CSV_CONTENT_TYPE)
            if on_bytes:
                on_bytes(len(data))
            return None
        return await self._multipart(key, path, source, sha256, on_bytes)


def _timestamp(value: Any) -> Any:
    """S3's ISO 8601 times (``2026-11-01T07:00:00.000Z``) read directly; any other form
    (an HTTP date in a header) botocore's way."""
    if isinstance(value, str) and value.endswith("Z"):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    return parse_timestamp(value)
