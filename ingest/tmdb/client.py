"""The TMDB client: one ``aiohttp`` session per run, paced, capped, retried.

Every attempt (retries included) waits for a free slot among ``concurrency`` requests in
flight and then for its turn at the adaptive rate (``ingest.tmdb.rate``; a stop cuts that
wait short). ``ingest.tmdb.verdicts.read_answer`` decides what an answer means:

    200 with a JSON body ...... OK
    429 ....................... THROTTLED: retried after Retry-After, or backoff if absent
    5xx, bad body, timeout,
    dropped connection, a 200
    that fails ``check`` ...... RETRY: exponential backoff with jitter
    401 ....................... AUTH: fatal, ``AuthError`` (exit 2)
    404 ....................... NOT_FOUND: ``SkippedRecord``, the caller counts and skips
    any other status .......... REFUSED: ``RemoteError``

Retries end after ``max_attempts`` with ``RetryableError``, waiting ``ingest.remote.retry.Backoff``
between attempts and showing at INFO as a periodic ``requests_retried`` summary. A stalled
answer is abandoned after ``read_timeout_s`` of silence (``sock_read``), and any attempt
(connect, headers and body) after ``request_timeout_s`` in all, and retried. A TMDB
that cannot be reached at all is told apart by ``ingest.tmdb.breaker``: at the start of a run
it is a ``ConfigError`` (``TMDB_BASE_URL``), in the middle an ``UnreachableError`` once the
breaker opens. Secrets stay out of everything this module keeps: the token travels only
in the Authorization header, and the URLs in messages and logs never carry ``api_key``.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace, TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
import structlog

from ingest.errors import (
    AuthError,
    ConfigError,
    RemoteError,
    RetryableError,
    SkippedRecord,
    UnreachableError,
    redact_url,
)
from ingest.remote.retry import Backoff, RetrySummary
from ingest.reports.counts import TmdbStats
from ingest.settings.config import TmdbSettings
from ingest.stop import Stop
from ingest.tmdb.breaker import Reachability
from ingest.tmdb.rate import AdaptiveRate, Sent
from ingest.tmdb.verdicts import Answer, Check, Verdict, read_answer

log = structlog.get_logger(__name__)

USER_AGENT = "movies-lake-ingest/0.1 (+aiohttp)"


@dataclass(frozen=True, slots=True)
class ClientTuning:
    """Retry timing and the breaker; the defaults suit TMDB, tests shrink them."""

    # ``Backoff``'s own defaults are TMDB's.
    backoff: Backoff = field(default_factory=Backoff)
    # The adaptive rate never goes below this many requests per second.
    min_rate_per_s: float = 1.0
    # The breaker (ingest.tmdb.breaker): this many connection failures in a row, lasting
    # at least this long, and TMDB is taken to be down.
    unreachable_failures: int = 5
    unreachable_after_s: float = 5.0


@dataclass(frozen=True, slots=True)
class Reply:
    # The body exactly as TMDB sent it, and the same body parsed.
    body: bytes
    data: Any


class TmdbClient:
    """``async with TmdbClient(settings, stats) as client: await client.get("/movie/603")``."""

    def __init__(
        self,
        settings: TmdbSettings,
        stats: TmdbStats,
        *,
        tuning: ClientTuning | None = None,
        stop: Stop | None = None,
    ) -> None:
        self._settings = settings
        self._stats = stats
        self._tuning = tuning or ClientTuning()
        self._backoff = self._tuning.backoff
        self._stop = stop or Stop()
        self._root = settings.base_url.rstrip("/").removesuffix("/3") + "/3"
        # The root as messages show it: no user:password@, no secret query parameter.
        self.shown_root = redact_url(re.sub(r"//[^/@]*@", "//", self._root))
        self._rate = AdaptiveRate(settings.rate_per_s, floor=self._tuning.min_rate_per_s, shared=self._root)
        # Requests in flight: TMDB allows about 20 connections per IP.
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._rng = random.Random()
        self._retries = RetrySummary("tmdb")
        # Requests waiting out a backoff now: what a progress line shows as "retrying".
        self.retrying = 0
        self.reach = Reachability(
            failures=self._tuning.unreachable_failures, after_s=self._tuning.unreachable_after_s
        )
        # Attempts that were a first try: "logical" requests, for requests-per-movie figures.
        self.first_attempts = 0

    @property
    def rate_per_s(self) -> float:
        return self._rate.rate

    @property
    def batch_budget_s(self) -> float:
        """Seconds a batch of records may take in all (``ingest.tmdb.pool``)."""
        return self._settings.batch_budget_s

    @property
    def _credential(self) -> str:
        """The variable the credential sent came from: the token wins when both are set."""
        return "TMDB_READ_ACCESS_TOKEN" if self._settings.token else "TMDB_API_KEY"

    @property
    def unreachable(self) -> bool:
        return self.reach.down.is_set()

    async def __aenter__(self) -> TmdbClient:
        s = self._settings
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        # A request counts in the rate's window from when its headers are written.
        trace = aiohttp.TraceConfig()
        trace.on_request_headers_sent.append(self._headers_sent)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=s.concurrency, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=s.connect_timeout_s, sock_read=s.read_timeout_s
            ),
            headers=headers,
            raise_for_status=False,
            trace_configs=[trace],
        )
        return self

    async def _headers_sent(
        self, _: aiohttp.ClientSession, ctx: SimpleNamespace, __: aiohttp.TraceRequestHeadersSentParams
    ) -> None:
        ticket = ctx.trace_request_ctx
        if isinstance(ticket, Sent):
            self._rate.sent(ticket)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._retries.flush()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def unreachable_error(self) -> UnreachableError:
        return UnreachableError(
            f"TMDB at {self.shown_root} stopped answering ({self.reach.streak} connection "
            "failures in a row); everything written so far is kept"
        )

    async def get(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        item_id: int = 0,
        check: Check | None = None,
    ) -> Reply:
        """GET ``/3{path}``; return the body as sent and parsed, or raise (module docstring).
        ``check`` is what the parsed body must pass (``ingest.tmdb.verdicts.same_id``): a
        body that fails it is a failed attempt, retried like a 5xx and never returned."""
        assert self._session is not None, "use TmdbClient as an async context manager"
        url = f"{self._root}{path}"
        query = {k: str(v) for k, v in (params or {}).items()}
        # What messages and logs show: the request without any credential in it.
        shown = redact_url(f"{url}?{urlencode(query)}" if query else url)
        if self._settings.api_key and not self._settings.token:
            query["api_key"] = self._settings.api_key
        attempts = self._settings.max_attempts
        answer = Answer(Verdict.RETRY, 0)
        for attempt in range(1, attempts + 1):
            if self.unreachable:
                raise self.unreachable_error()
            answer = await self._attempt(url, query, first=attempt == 1)
            if answer.verdict is Verdict.OK:
                problem = None if check is None else check(answer.data)
                if problem is None:
                    return Reply(answer.body, answer.data)
                answer = Answer(Verdict.RETRY, 0, detail=f"wrong answer: {problem}")
            _raise_final(answer, shown, item_id, self._credential)
            if attempt < attempts:
                await self._pause(attempt, answer, shown)
        raise RetryableError(
            f"TMDB {shown} still failing after {attempts} attempts ({answer.detail})",
            retry_after_s=answer.retry_after_s,
        )

    async def _pause(self, attempt: int, answer: Answer, shown: str) -> None:
        """Back off before the next attempt; cut short if the breaker opens meanwhile."""
        wait = self._backoff.delay_s(attempt, self._rng, answer.retry_after_s)
        self._retries.note(answer.reason, answer.detail)
        log.debug("request_retried", url=shown, attempt=attempt, why=answer.detail, wait_s=round(wait, 3))
        self.retrying += 1
        try:
            async with asyncio.timeout(wait):
                await self.reach.down.wait()
        except TimeoutError:
            pass
        finally:
            self.retrying -= 1

    async def _attempt(self, url: str, query: Mapping[str, str], *, first: bool) -> Answer:
        assert self._session is not None
        stats = self._stats
        async with self._slots:
            async with self._stop.interruptible():
                ticket = await self._rate.acquire()
            stats.requests += 1
            if first:
                self.first_attempts += 1
            else:
                stats.retries += 1
            # A total for the attempt: a drip (a byte now and then) never trips sock_read.
            deadline = asyncio.timeout(self._settings.request_timeout_s)
            try:
                async with deadline, self._session.get(url, params=query, trace_request_ctx=ticket) as resp:
                    body = await resp.read()
                    answer = read_answer(resp.status, body, resp.headers)
            except TimeoutError:
                if deadline.expired():
                    limit = self._settings.request_timeout_s
                    return Answer(Verdict.RETRY, 0, detail=f"timed out: no whole answer within {limit:g} s")
                return Answer(Verdict.RETRY, 0, detail="timed out")
            except aiohttp.ClientConnectionError as exc:
                return self._no_answer(exc)
            except aiohttp.ClientError as exc:
                return Answer(Verdict.RETRY, 0, detail=_describe(exc))
            finally:
                self._rate.done(ticket)
        self.reach.note_answer()
        if answer.verdict is Verdict.THROTTLED:
            stats.throttled += 1
            self._rate.record(throttled=True)
        elif answer.verdict is Verdict.OK:
            self._rate.record(throttled=False)
        return answer

    def _no_answer(self, exc: aiohttp.ClientConnectionError) -> Answer:
        """A connection that gave no answer at all: configuration at the start of a run,
        a count towards the breaker later."""
        detail = _describe(exc)
        if isinstance(exc, aiohttp.ClientConnectorError) and not self.reach.answered:
            raise ConfigError(
                f"cannot reach TMDB at {self.shown_root} ({detail}): check TMDB_BASE_URL and the network"
            )
        self.reach.note_connection_failure(self.shown_root, detail)
        return Answer(Verdict.RETRY, 0, detail=detail)


def _describe(exc: BaseException) -> str:
    # str(exc) may quote the URL, query string included: redact before keeping.
    text = " ".join(redact_url(str(exc)).split())
    return f"{type(exc).__name__}: {text[:200]}"


def _raise_final(answer: Answer, shown: str, item_id: int, credential: str) -> None:
    """Raise what an answer that no retry can change means; return for retryable ones."""
    if answer.verdict is Verdict.AUTH:
        raise AuthError(
            f"TMDB refused the credentials ({answer.detail}): check {credential} - it is missing "
            "a character, expired or revoked"
        )
    if answer.verdict is Verdict.NOT_FOUND:
        raise SkippedRecord(f"TMDB has no {shown} ({answer.detail})", item_id=item_id)
    if answer.verdict is Verdict.REFUSED:
        raise RemoteError(f"TMDB refused {shown} ({answer.detail})", status=answer.status, url=shown)
