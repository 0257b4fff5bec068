"""TMDB's daily ID exports: where they are, which day's to read, and reading one as a stream.

TMDB publishes ``movie_ids_MM_DD_YYYY.json.gz`` and ``collection_ids_MM_DD_YYYY.json.gz``
every day around 07:00-08:00 UTC on its file host (``[tmdb] exports_url``, the folder
that holds them): gzipped JSON Lines, one ``{"adult": ..., "id": ..., "popularity": ...}``
(movies) or ``{"id": ..., "name": ...}`` (collections) a line. The file host asks for no
credentials, so none is sent there: the export is read with a session of its own.

``open_export`` asks for the processing date's file and, when that is not published yet
(404), yesterday's, with a warning; when neither exists it raises ``ConfigError`` (exit 2)
naming the URL tried. ``Export.lines`` decompresses as the bytes arrive: a 1.1M-line export
is never in memory whole, compressed or not.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import structlog

from ingest.errors import ConfigError, RunError, redact_url
from ingest.remote.retry import Backoff

log = structlog.get_logger(__name__)

MOVIES = "movie"
COLLECTIONS = "collection"
_ATTEMPTS = 5
_CHUNK_BYTES = 1 << 16
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)


def export_name(kind: str, date: dt.date) -> str:
    """TMDB's file name for ``kind`` (``movie`` or ``collection``) on ``date``."""
    return f"{kind}_ids_{date.month:02d}_{date.day:02d}_{date.year:04d}.json.gz"


def export_url(folder: str, kind: str, date: dt.date) -> str:
    return f"{folder.rstrip('/')}/{export_name(kind, date)}"


@dataclass(slots=True)
class Export:
    """One day's export, open for reading."""

    url: str
    date: dt.date
    # The processing date's file was not published yet: this is the day before's.
    fallback: bool
    response: aiohttp.ClientResponse
    # Requests made to find it (the 404 of a missing day included).
    requests: int = 0

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    async def lines(self) -> AsyncIterator[bytes]:
        """The export's non-empty lines, decompressed as they arrive."""
        unpack = zlib.decompressobj(wbits=31)
        tail = b""
        try:
            async for chunk in self.response.content.iter_chunked(_CHUNK_BYTES):
                *whole, tail = (tail + unpack.decompress(chunk)).split(b"\n")
                for line in whole:
                    if line.strip():
                        yield line
            tail += unpack.flush()
        except (TimeoutError, zlib.error, aiohttp.ClientError) as exc:
            raise RunError(f"reading {redact_url(self.url)} failed ({type(exc).__name__}: {exc})") from None
        if not unpack.eof:
            raise RunError(f"{redact_url(self.url)} ended before its gzip stream did (a cut download)")
        if tail.strip():
            yield tail


@asynccontextmanager
async def open_export(folder: str, kind: str, date: dt.date) -> AsyncIterator[Export]:
    """The ``kind`` export of ``date``, or of the day before when ``date``'s is not out."""
    tried: list[str] = []
    requests = 0
    # The bytes as stored: a host that labels the file Content-Encoding: gzip must not
    # have it unpacked under us.
    async with aiohttp.ClientSession(timeout=_TIMEOUT, auto_decompress=False) as session:
        for day in (date, date - dt.timedelta(days=1)):
            url = export_url(folder, kind, day)
            tried.append(redact_url(url))
            response, attempts = await _get(session, url)
            requests += attempts
            if response is None:
                continue
            if day != date:
                log.warning(
                    "export_fallback",
                    kind=kind,
                    wanted=export_name(kind, date),
                    used=export_name(kind, day),
                    why="today's export is not published yet (TMDB publishes around 07:00-08:00 UTC)",
                )
            try:
                yield Export(url, day, day != date, response, requests)
            finally:
                response.release()
            return
    raise ConfigError(
        f"TMDB's {kind} ID export is not published for {date} nor the day before (tried "
        f"{' and '.join(tried)}): run later, or pass --date, or fix [tmdb] exports_url / TMDB_EXPORTS_URL"
    )


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[aiohttp.ClientResponse | None, int]:
    """The open response for ``url``, or None on a 404 (the file is not there); retries
    connection errors and 5xx/429 with the shared backoff."""
    rng = random.Random()
    backoff = Backoff()
    for attempt in range(1, _ATTEMPTS + 1):
        why: str
        try:
            response = await session.get(url)
        except (TimeoutError, aiohttp.ClientError) as exc:
            why = type(exc).__name__
        else:
            if response.status == 200:
                return response, attempt
            response.release()
            if response.status in (403, 404):  # S3-style hosts answer 403 for a missing key
                return None, attempt
            if response.status not in (429, 500, 502, 503, 504):
                raise ConfigError(
                    f"{redact_url(url)} answered {response.status}: "
                    "check [tmdb] exports_url / TMDB_EXPORTS_URL"
                )
            why = f"HTTP {response.status}"
        if attempt == _ATTEMPTS:
            raise RunError(f"{redact_url(url)} failed {_ATTEMPTS} times (last: {why}); retries ran out")
        await asyncio.sleep(backoff.delay_s(attempt, rng))
    raise AssertionError("unreachable")
