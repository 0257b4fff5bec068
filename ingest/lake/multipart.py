"""A streaming multipart upload: a bounded queue of part numbers and a few part uploaders,
each reading only its own part from disk (``os.pread``, ``ingest.lake.part_body``), so
memory stays a step a part in flight whatever the file size (the aioboto3 ``inject.py`` protocol:
create, bounded part queue, N uploaders, sort by PartNumber, complete, abort on failure).

One reader, in a worker thread, takes each part's checksum before the part is queued, and
the uploader hands it to the SDK: botocore then does not read the part again on the event
loop to compute it, and the part's body is read only once more, by the HTTP client. With
CRC64NVME the same reader also carries the whole file's CRC64NVME from part to part (parts
are read in order), which S3 checks at completion as the object's full-object checksum:
no pass over the file before the first part is sent.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from awscrt.checksums import crc64nvme

from ingest.errors import InputError
from ingest.lake.part_body import MIB, PartBody

MAX_PARTS = 10_000

# Uploads one part and returns S3's answer: given the part number, a maker of a fresh
# body of the part (so each attempt of a retried part starts from its first byte) and
# the part's checksum (base64, as S3's Checksum<ALGORITHM> header carries it).
PartSender = Callable[[int, Callable[[], PartBody], str], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Checksum:
    """A checksum S3 takes per part: its name there, its width and how to extend it."""

    # S3's ChecksumAlgorithm, and the suffix of the Checksum<NAME> field of a part.
    name: str
    width: int
    extend: Callable[[Any, int], int]

    @property
    def field(self) -> str:
        return f"Checksum{self.name}"

    def b64(self, value: int) -> str:
        return base64.b64encode(value.to_bytes(self.width, "big")).decode()


# CRC64NVME (AWS's own C library, 0.1-0.2 s per GB): the full-object checksum S3 keeps.
CRC64NVME = Checksum("CRC64NVME", 8, crc64nvme)
# CRC32: the fallback for a server that refuses a full-object CRC64NVME.
CRC32 = Checksum("CRC32", 4, zlib.crc32)


def part_checksum(
    fd: int, name: str, offset: int, length: int, buffer: bytearray, algo: Checksum, whole: int | None
) -> tuple[str, int | None]:
    """The checksum of ``length`` bytes of ``fd`` from ``offset``, base64 as S3 wants it,
    read through ``buffer`` in ``len(buffer)`` steps; and ``whole`` (the checksum of every
    byte before ``offset``) extended over them, unless None. Runs in a worker thread."""
    view = memoryview(buffer)
    crc = 0
    done = 0
    while done < length:
        step = view[: min(len(view), length - done)]
        n = os.preadv(fd, [step], offset + done)
        if n == 0:
            raise InputError.changed(name)
        crc = algo.extend(step[:n], crc)
        if whole is not None:
            whole = algo.extend(step[:n], whole)
        done += n
    return algo.b64(crc), whole


def check_unchanged(path: Path, source: tuple[int, int]) -> None:
    """Refuse to commit what was read unless the file kept its size and mtime throughout:
    a torn copy of a file changed mid-upload must not replace a good object."""
    now = os.stat(path)
    if (now.st_size, now.st_mtime_ns) != source:
        raise InputError.changed(path)


def part_size_for(size: int, wanted: int) -> int:
    """The smallest part size >= ``wanted`` (whole MiB) that fits ``size`` in 10,000 parts."""
    needed = -(-size // MAX_PARTS)
    return max(wanted, -(-needed // MIB) * MIB)


async def upload_parts(
    fd: int,
    name: str,
    size: int,
    part_size: int,
    parts_in_flight: int,
    send: PartSender,
    on_bytes: Callable[[int], None] | None = None,
    *,
    algo: Checksum = CRC32,
    whole: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """Send every part of the open file ``fd`` through ``send``; return the parts for
    ``complete_multipart_upload``, sorted by number, and (``whole``) the whole file's
    checksum, base64. One TaskGroup; the first failure cancels the rest and escapes in an
    ``ExceptionGroup``."""
    count = -(-size // part_size)
    workers = min(parts_in_flight, count)
    done: list[dict[str, Any]] = []
    # Parts (number, checksum) waiting for an uploader: bounded, so the reader never runs
    # more than ``parts_in_flight`` parts ahead of the uploads.
    queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(maxsize=parts_in_flight)
    # The whole file's checksum so far, carried by the reader from part to part.
    running: int | None = 0 if whole else None

    async def feed() -> None:
        nonlocal running
        # One buffer, reused for every part: the reader costs 1 MiB whatever the part size.
        buffer = bytearray(min(MIB, part_size))
        for number in range(1, count + 1):
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            crc, running = await asyncio.to_thread(
                part_checksum, fd, name, offset, length, buffer, algo, running
            )
            await queue.put((number, crc))
        for _ in range(workers):
            await queue.put(None)

    async def upload() -> None:
        while (item := await queue.get()) is not None:
            number, crc = item
            offset = (number - 1) * part_size
            length = min(part_size, size - offset)
            resp = await send(number, functools.partial(PartBody, fd, offset, length, name), crc)
            # Our checksum, not the answer's: the servers differ in whether they echo it.
            done.append({"PartNumber": number, "ETag": resp["ETag"], algo.field: crc})
            if on_bytes:
                on_bytes(length)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(feed())
        for _ in range(workers):
            tg.create_task(upload())
    parts = sorted(done, key=lambda p: p["PartNumber"])
    return parts, None if running is None else algo.b64(running)


def first_failure(exc: BaseException) -> BaseException:
    """The failure a TaskGroup wrapped (the first leaf of its group), else ``exc`` itself."""
    first = exc
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first if isinstance(first, Exception) else exc
