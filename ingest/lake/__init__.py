"""The lake: one small interface with two homes, an S3 bucket or a local directory.

Everything the pipeline writes goes through ``Lake``; ``open_lake`` picks the home
from the URL (``s3://bucket[/prefix]`` or a path). Keys are always relative to the
lake root and use ``/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ingest.errors import ConfigError
from ingest.settings_table import default


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    # The SHA-256 the writer recorded with the object, if any (S3 metadata / side file).
    sha256: str | None


@dataclass(frozen=True, slots=True)
class UploadTuning:
    # Defaults from the settings table, their one owner.
    part_size: int = default("upload.part_size")
    parts_in_flight: int = default("upload.parts_in_flight")
    max_attempts: int = default("upload.max_attempts")
    # A total per attempt of an S3 request (a stall never ends it otherwise), and per call
    # (one part: every attempt and the waits between them).
    request_timeout_s: float = default("upload.request_timeout_s")
    part_budget_s: float = default("upload.part_budget_s")
    # Only one run at a time writes to this lake: a store without conditional writes will do.
    single_writer: bool = default("upload.single_writer")


class Lake(Protocol):
    """What the stages need of a lake. Writes are atomic: a reader sees all or nothing."""

    @property
    def url(self) -> str: ...

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
        sha256: str,
        on_bytes: Callable[[int], None] | None = None,
        source: tuple[int, int] | None = None,
    ) -> None:
        """Store the file at ``key`` with its SHA-256. ``source`` is the file's (size,
        mtime_ns) when ``sha256`` was computed: nothing is committed if the file no longer
        matches what was hashed (default: the file as it is when the call starts)."""


@asynccontextmanager
async def open_lake(url: str, tuning: UploadTuning | None = None) -> AsyncIterator[Lake]:
    """Open the lake at ``url`` for the length of a run."""
    tuning = tuning or UploadTuning()
    if url.startswith("s3://"):
        from ingest.lake.s3 import S3Lake

        async with S3Lake.connect(url, tuning) as lake:
            yield lake
    elif "://" in url:
        raise ConfigError(
            f"lake {url!r} has an unknown scheme: use s3://bucket[/prefix] or a local directory"
        )
    else:
        from ingest.lake.local import LocalLake

        yield LocalLake(Path(url), tuning)
