"""The stand-in's gate: what stands in front of every TMDB route, before any answer.

It counts each request (by endpoint, by item, in flight), then refuses what TMDB would
refuse: bad credentials (401), more requests in flight than ``max_connections`` or more
than ``rate_limit`` allows (429, with ``Retry-After``), a random share of
injected 429s and 5xx (``failure_rate``) and the ``broken_ids`` (503); it stalls the
``stall_ids`` and a random ``stall_rate`` of requests, and adds the latency. Its own
routes (``/__stats``, ``/__day``) and the file host (``/p/``) pass uncounted.

``Gate`` is the part of ``ingest.standin.app.Standin`` that does this; the knobs are the
stand-in's plain attributes, set in its ``__init__`` and changed by tests between runs.
"""

from __future__ import annotations

import asyncio
import collections
import math
import random
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from aiohttp import web

from ingest.standin.counters import Counters, endpoint_of
from ingest.standin.errors import ERR_5XX, ERR_AUTH, err_rate, json_response

_OWN = ("/__stats", "/__day")
# TMDB's file host (the daily ID exports) asks for no credentials and has no rate limit.
_FILES = "/p/"
# How the rate is enforced: over a sliding second, or by a token bucket.
RATE_MODELS = ("sliding", "bucket")


class Gate:
    """Counting, auth, limits and faults, as an aiohttp middleware (``_gate``)."""

    # The knobs and state, owned and commented by ``Standin.__init__``.
    counters: Counters
    token: str | None
    api_key: str | None
    rate_limit: float | None
    retry_after: bool
    max_connections: int | None
    latency_s: float
    failure_rate: float
    stall_ids: set[int]
    stall_times: int
    stall_rate: float
    stall_s: float
    broken_ids: set[int]
    _rng: random.Random
    _clock: Callable[[], float]
    _window: collections.deque[float]
    _stall_seen: collections.Counter[int]
    _closing: asyncio.Event
    # The token bucket's model and size (tokens; None: ``rate_limit``), set by the stand-in.
    rate_model: str = "sliding"
    burst: float | None = None
    # Its tokens and when they were counted; None until the first request (a full bucket).
    _bucket: tuple[float, float] | None = None

    @web.middleware
    async def _gate(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if request.path in _OWN or request.path.startswith(_FILES):
            return await handler(request)  # type: ignore[no-any-return]
        c = self.counters
        endpoint = endpoint_of(request.path)
        c.saw_request(self._clock(), endpoint)
        c.requests[endpoint] += 1
        item = request.match_info.get("id")
        if item is not None and endpoint == "movie":
            c.movie_requests[int(item)] += 1
        elif item is not None and endpoint == "collection":
            c.collection_requests[int(item)] += 1
        c.in_flight += 1
        c.peak_in_flight = max(c.peak_in_flight, c.in_flight)
        try:
            response = await self._answer(request, handler, endpoint)
        finally:
            c.in_flight -= 1
        c.status[response.status] += 1
        return response

    async def _answer(
        self, request: web.Request, handler: Callable[[web.Request], Any], endpoint: str
    ) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        item = request.match_info.get("id")
        if endpoint == "movie" and item is not None and int(item) in self.broken_ids:
            return json_response(ERR_5XX[503], 503)
        if self._should_stall(request, endpoint):
            self.counters.stalled += 1
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.stall_s)
        if self.latency_s:
            await asyncio.sleep(self.latency_s * (0.5 + self._rng.random()))
        return await handler(request)  # type: ignore[no-any-return]

    def _refusal(self, request: web.Request) -> web.Response | None:
        """A 401 or 429 (the limits, or an injected fault) or 5xx, before any work; or None."""
        c = self.counters
        if not self._authorised(request):
            c.unauthorized += 1
            return json_response(ERR_AUTH, 401)
        if self.max_connections is not None and c.in_flight > self.max_connections:
            c.refused_connections += 1
            return json_response(err_rate(self.max_connections), 429)
        if self.rate_limit is not None:
            wait_s = self._rate_wait_s(self.rate_limit)
            if wait_s is not None:
                c.throttled += 1
                headers = {}
                if self.retry_after:
                    c.throttled_with_retry_after += 1
                    headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
                return json_response(err_rate(self.rate_limit), 429, headers)
        if self.failure_rate and self._rng.random() < self.failure_rate:
            if self._rng.random() < 0.5:
                c.injected_429 += 1
                hint = {"Retry-After": "1"} if self.retry_after and self._rng.random() < 0.5 else {}
                return json_response(err_rate(self.rate_limit or 40), 429, hint)
            c.injected_5xx += 1
            status = self._rng.choice(tuple(ERR_5XX))
            return json_response(ERR_5XX[status], status)
        return None

    def _rate_wait_s(self, rate: float) -> float | None:
        """None and the request counted, if the rate allows it now; else the seconds until
        it would."""
        now = self._clock()
        if self.rate_model == "bucket":
            size = self.burst or rate
            tokens, then = self._bucket or (size, now)
            tokens = min(size, tokens + (now - then) * rate)
            if tokens < 1.0:
                self._bucket = (tokens, now)
                return (1.0 - tokens) / rate
            self._bucket = (tokens - 1.0, now)
            return None
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        if len(self._window) >= rate:
            return self._window[0] + 1.0 - now
        self._window.append(now)
        return None

    def _authorised(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if self.token and auth == f"Bearer {self.token}":
            return True
        return bool(self.api_key) and request.query.get("api_key") == self.api_key

    def _should_stall(self, request: web.Request, endpoint: str) -> bool:
        if endpoint == "movie" and "id" in request.match_info:
            movie_id = int(request.match_info["id"])
            if movie_id in self.stall_ids and self._stall_seen[movie_id] < self.stall_times:
                self._stall_seen[movie_id] += 1
                return True
        return bool(self.stall_rate) and self._rng.random() < self.stall_rate


def check_rate_model(model: str) -> str:
    if model not in RATE_MODELS:
        raise ValueError(f"unknown rate model {model!r}: one of {', '.join(RATE_MODELS)}")
    return model
