"""A multipart part's HTTP body: a region of an open file that aiohttp writes straight out.

Handed to the SDK as the part's ``Body``, it passes through botocore untouched (the part's
checksum and length come with it, the payload is not signed) and aiohttp writes it itself
(it is already a payload): ``READ_STEP`` at a time, each step read with ``os.pread`` on the
event loop, from the page cache the checksum reader has just filled, and written to the
connection as it is. A file-like body would instead be read, step by step, through the
default thread pool and copied once more on the way (aiohttp's ``IOBasePayload``): four
thread hops and copies a MiB, which on a loaded machine each wait for a thread to be
scheduled. A part in flight holds one step, whatever the part size; each attempt of a
retried part gets a fresh body and starts from its first byte.
"""

from __future__ import annotations

import os

from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload

from ingest.errors import InputError

MIB = 1024 * 1024
# One read and one write to the connection a step: aiohttp's own step, so a part in
# flight holds what it held before (a MiB a step took 14 MiB more at eight parts).
READ_STEP = 256 * 1024


class PartBody(Payload):
    """``length`` bytes of the open file ``fd`` from ``offset`` (``name``: the file's, for
    the message when it shrinks under us)."""

    def __init__(self, fd: int, offset: int, length: int, name: str = "the file") -> None:
        super().__init__(None)
        self._fd = fd
        self._offset = offset
        self._name = name
        self._size = length
        # Where ``read`` is, within the region (``write`` always starts from its first byte).
        self._pos = 0

    @property
    def length(self) -> int:
        return self._size or 0

    # botocore takes a body with ``read`` for a file-like one, and its signer hands one with
    # ``seek`` to the CRT as a stream; neither reads it here (the payload is not signed,
    # its checksum is given), but both may ask, so the region reads like a file too.
    def read(self, size: int = -1) -> bytes:
        want = self.length - self._pos if size is None or size < 0 else size
        want = min(want, self.length - self._pos)
        if want <= 0:
            return b""
        data = os.pread(self._fd, want, self._offset + self._pos)
        if len(data) < want:
            raise InputError.changed(self._name)
        self._pos += want
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.length}[whence]
        self._pos = min(max(base + pos, 0), self.length)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return os.pread(self._fd, self.length, self._offset).decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(self, writer: AbstractStreamWriter, content_length: int | None) -> None:
        end = self.length if content_length is None else min(content_length, self.length)
        done = 0
        while done < end:
            data = os.pread(self._fd, min(READ_STEP, end - done), self._offset + done)
            if not data:
                raise InputError.changed(self._name)
            await writer.write(data)
            done += len(data)

    def __repr__(self) -> str:
        return f"PartBody({self._name!r}, offset={self._offset}, length={self.length})"
