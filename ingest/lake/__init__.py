"""The lake: one small interface with two homes, an S3 bucket or a local directory.

Everything the pipeline writes goes through ``Lake``; ``connect_lake`` picks the home
from the URL (``s3://bucket[/prefix]`` or a path). Keys are always relative to the
lake root and use ``/``. Where a lake keeps its records of its own objects and store
(``StoreMeta``) is said by the owner of the pipeline's state, which opens lakes for the
rest of the code (``ingest.state.open_lake``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ingest.errors import ConfigError

# The lake's settings, re-exported: the stages take them from here with the lake.
from ingest.settings.config import UploadTuning as UploadTuning


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    # The SHA-256 the writer recorded with the object, if any (S3 metadata / side file).
    sha256: str | None
    # S3's own full-object CRC64NVME (base64), which the server checked on upload, if any.
    crc64nvme: str | None = None

    def holds(self, size: int, sha256: str | None, crc64nvme: str | None) -> bool:
        """Whether this object is the file of ``size`` bytes with these checksums: by the
        recorded SHA-256 where the object carries one, else by S3's CRC64NVME."""
        if self.size != size:
            return False
        if self.sha256:
            return self.sha256 == sha256
        return self.crc64nvme is not None and self.crc64nvme == crc64nvme


# The file's SHA-256 when the caller knows it, or how to get it (awaited only by a lake
# that must record it before the first byte: the S3 fallback, a single PUT, the local lake).
Sha256 = str | Callable[[], Awaitable[str]]


async def resolve_sha256(sha256: Sha256) -> str:
    return sha256 if isinstance(sha256, str) else await sha256()


@dataclass(frozen=True, slots=True)
class StoreMeta:
    """Where a lake keeps what it knows of itself, apart from the data: a directory lake's
    checksums (``<objects><key>.sha256``), and whether an S3 store honours conditional
    writes (``<store>conditional-writes.json``, probed with ``<store>probe-<id>``)."""

    objects: str
    store: str

    def checksum_key(self, key: str) -> str:
        return f"{self.objects}{key}.sha256"

    @property
    def conditional_record(self) -> str:
        return f"{self.store}conditional-writes.json"

    @property
    def probe_prefix(self) -> str:
        return f"{self.store}probe-"


class Lake(Protocol):
    """What the stages need of a lake. Writes are atomic: a reader sees all or nothing."""

    @property
    def url(self) -> str: ...

    @property
    def location(self) -> str:
        """Where the lake is, as a person should read it: the directory's absolute path, or
        the ``s3://bucket/prefix`` URI."""
        ...

    async def stat(self, key: str) -> ObjectInfo | None: ...

    async def read(self, key: str) -> bytes | None: ...

    async def write(self, key: str, data: bytes, *, sha256: str | None = None) -> None: ...

    async def create(self, key: str, data: bytes) -> bool:
        """Write ``key`` only if no object holds it yet; return False (writing nothing) when
        one does. Of any number of concurrent creators, exactly one gets True: the lake
        arbitrates what must be made once (a plan), not timing."""
        ...

    async def list(self, prefix: str) -> list[str]: ...

    async def upload_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: Sha256,
        on_bytes: Callable[[int], None] | None = None,
        source: tuple[int, int] | None = None,
    ) -> str | None:
        """Store the file at ``key``, stored as ``text/csv; charset=utf-8``, with a checksum
        the lake keeps: S3's full-object CRC64NVME (returned, base64) where the server keeps
        one, else the SHA-256 (None returned). ``source`` is the file's (size, mtime_ns) when
        it was first looked at: nothing is committed if the file no longer matches it
        (default: the file as it is when the call starts)."""


@asynccontextmanager
async def connect_lake(url: str, meta: StoreMeta, tuning: UploadTuning | None = None) -> AsyncIterator[Lake]:
    """Open the lake at ``url`` for the length of a run."""
    tuning = tuning or UploadTuning()
    if url.startswith("s3://"):
        from ingest.lake.s3 import S3Lake

        async with S3Lake.connect(url, tuning, meta) as lake:
            yield lake
    elif "://" in url:
        raise ConfigError(
            f"lake {url!r} has an unknown scheme: use s3://bucket[/prefix] or a local directory"
        )
    else:
        from ingest.lake.local import LocalLake

        yield LocalLake(Path(url), tuning, meta)
