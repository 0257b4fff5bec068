"""The TMDB client: one ``aiohttp`` session per run, paced, capped, retried.

Every attempt (retries included) waits for a free slot among ``concurrency`` requests in
flight and then for its turn at the adaptive rate (``ingest.tmdb.rate``). ``classify`` is
the one place that decides what an answer means:

    200 with a JSON body ...... OK
    429 ....................... THROTTLED: retried after Retry-After, or backoff if absent
    5xx, bad body, timeout,
    dropped connection ........ RETRY: exponential backoff with jitter
    401 ....................... AUTH: fatal, ``AuthError`` (exit 2)
    404 ....................... NOT_FOUND: ``SkippedRecord``, the caller counts and skips
    any other status .......... REFUSED: ``RemoteError``

Retries end after ``max_attempts`` with ``RetryableError``. A stalled answer is abandoned
after ``read_timeout_s`` of silence (``sock_read``) and retried. Secrets stay out of
everything this module keeps: the token travels only in the Authorization header, and the
URLs in messages and logs never carry the ``api_key`` parameter.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import structlog

from ingest.config import TmdbSettings
from ingest.errors import AuthError, RemoteError, RetryableError, SkippedRecord, redact_url
from ingest.report import TmdbStats
from ingest.tmdb.rate import AdaptiveRate

log = structlog.get_logger(__name__)

USER_AGENT = "movies-lake-ingest/0.1 (+aiohttp)"


@dataclass(frozen=True, slots=True)
class ClientTuning:
    """Retry timing; the defaults suit TMDB, tests shrink them."""

    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    # A Retry-After longer than this is not waited out in full (a misbehaving proxy).
    retry_after_cap_s: float = 60.0
    # The adaptive rate never goes below this many requests per second.
    min_rate_per_s: float = 1.0


class Verdict(enum.Enum):
    OK = "ok"
    RETRY = "retry"
    THROTTLED = "throttled"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    status: int
    # The body of an OK answer, as sent and parsed.
    body: bytes = b""
    data: Any = None
    # What went wrong, for messages (never holds a secret).
    detail: str = ""
    retry_after_s: float | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    # The body exactly as TMDB sent it, and the same body parsed.
    body: bytes
    data: Any


def classify(status: int, body: bytes, headers: Mapping[str, str]) -> Outcome:
    """Decide what one HTTP answer from TMDB means (see the module docstring)."""
    if status == 200:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return Outcome(Verdict.RETRY, status, detail="200 with a body that is not JSON")
        if not isinstance(data, dict):
            return Outcome(Verdict.RETRY, status, detail="200 with a body that is not an object")
        return Outcome(Verdict.OK, status, body=body, data=data)
    detail = f"{status}{_tmdb_reason(body)}"
    if status == 429:
        return Outcome(
            Verdict.THROTTLED,
            status,
            detail=detail,
            retry_after_s=parse_retry_after(headers.get("Retry-After")),
        )
    if status >= 500 or status == 408:
        return Outcome(
            Verdict.RETRY,
            status,
            detail=detail,
            retry_after_s=parse_retry_after(headers.get("Retry-After")),
        )
    if status == 401:
        return Outcome(Verdict.AUTH, status, detail=detail)
    if status == 404:
        return Outcome(Verdict.NOT_FOUND, status, detail=detail)
    return Outcome(Verdict.REFUSED, status, detail=detail)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - time.time())


def _tmdb_reason(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(data, dict) and "status_code" in data:
        return f", status_code {data['status_code']}: {str(data.get('status_message', ''))[:120]}"
    return ""


def backoff_s(attempt: int, outcome: Outcome, tuning: ClientTuning, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential with jitter ("equal
    jitter": half fixed, half random, so retries spread out but never come back at once),
    and at least the server's Retry-After when it gave one."""
    step = min(tuning.backoff_cap_s, tuning.backoff_base_s * 2.0 ** (attempt - 1))
    wait = step * (0.5 + 0.5 * rng.random())
    if outcome.retry_after_s is not None:
        hinted = min(tuning.retry_after_cap_s, outcome.retry_after_s)
        # Spread the throttled requests over a little time after the hinted instant.
        wait = max(wait, hinted + hinted * 0.2 * rng.random())
    return wait


class TmdbClient:
    """``async with TmdbClient(settings, stats) as client: await client.get("/movie/603")``."""

    def __init__(
        self,
        settings: TmdbSettings,
        stats: TmdbStats,
        *,
        tuning: ClientTuning | None = None,
    ) -> None:
        self._settings = settings
        self._stats = stats
        self._tuning = tuning or ClientTuning()
        self._root = settings.base_url.rstrip("/").removesuffix("/3") + "/3"
        self._rate = AdaptiveRate(settings.rate_per_s, floor=self._tuning.min_rate_per_s)
        # Requests in flight: TMDB allows about 20 connections per IP.
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._rng = random.Random()
        # Attempts that were a first try: "logical" requests, for requests-per-movie figures.
        self.first_attempts = 0

    @property
    def rate_per_s(self) -> float:
        return self._rate.rate

    async def __aenter__(self) -> TmdbClient:
        s = self._settings
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=s.concurrency, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=s.connect_timeout_s, sock_read=s.read_timeout_s
            ),
            headers=headers,
            raise_for_status=False,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self, path: str, params: Mapping[str, str | int] | None = None, *, item_id: int = 0
    ) -> Reply:
        """GET ``/3{path}``; return the body as sent and parsed, or raise (module docstring)."""
        assert self._session is not None, "use TmdbClient as an async context manager"
        url = f"{self._root}{path}"
        query = {k: str(v) for k, v in (params or {}).items()}
        # What messages and logs show: the request without any credential in it.
        shown = redact_url(f"{url}?{urlencode(query)}" if query else url)
        if self._settings.api_key and not self._settings.token:
            query["api_key"] = self._settings.api_key
        attempts = self._settings.max_attempts
        outcome = Outcome(Verdict.RETRY, 0)
        for attempt in range(1, attempts + 1):
            outcome = await self._attempt(url, query, first=attempt == 1)
            if outcome.verdict is Verdict.OK:
                return Reply(outcome.body, outcome.data)
            if outcome.verdict is Verdict.AUTH:
                raise AuthError(
                    f"TMDB refused the credentials ({outcome.detail}): check "
                    "TMDB_READ_ACCESS_TOKEN (or TMDB_API_KEY) - it is missing a character, "
                    "expired or revoked"
                )
            if outcome.verdict is Verdict.NOT_FOUND:
                raise SkippedRecord(f"TMDB has no {shown} ({outcome.detail})", item_id=item_id)
            if outcome.verdict is Verdict.REFUSED:
                raise RemoteError(
                    f"TMDB refused {shown} ({outcome.detail})", status=outcome.status, url=shown
                )
            if attempt < attempts:
                wait = backoff_s(attempt, outcome, self._tuning, self._rng)
                log.debug(
                    "request_retried", url=shown, attempt=attempt, why=outcome.detail, wait_s=round(wait, 3)
                )
                await asyncio.sleep(wait)
        raise RetryableError(
            f"TMDB {shown} still failing after {attempts} attempts ({outcome.detail})",
            retry_after_s=outcome.retry_after_s,
        )

    async def _attempt(self, url: str, query: Mapping[str, str], *, first: bool) -> Outcome:
        assert self._session is not None
        stats = self._stats
        async with self._slots:
            await self._rate.acquire()
            stats.requests += 1
            if first:
                self.first_attempts += 1
            else:
                stats.retries += 1
            try:
                async with self._session.get(url, params=query) as resp:
                    body = await resp.read()
                    outcome = classify(resp.status, body, resp.headers)
            except TimeoutError:
                return Outcome(Verdict.RETRY, 0, detail="timed out")
            except aiohttp.ClientError as exc:
                # str(exc) may quote the URL, query string included: redact before keeping.
                return Outcome(Verdict.RETRY, 0, detail=f"{type(exc).__name__}: {redact_url(str(exc))[:200]}")
        if outcome.verdict is Verdict.THROTTLED:
            stats.throttled += 1
            self._rate.record(throttled=True)
        elif outcome.verdict is Verdict.OK:
            self._rate.record(throttled=False)
        return outcome
