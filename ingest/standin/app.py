"""The stand-in's HTTP face: TMDB's API v3 over a ``Catalog``, with TMDB's limits and faults.

Routes: ``/3/discover/movie`` (20 a page, the 500-page refusal), ``/3/movie/{id}``
(``append_to_response=keywords``), ``/3/movie/{id}/keywords``, ``/3/movie/changes``
(100 ids a page, at most 14 days), ``/3/collection/{id}``, ``/3/genre/movie/list``,
``/3/authentication`` (TMDB's check of the credentials, which start-up checks use); TMDB's
TV paths over a ``TvCatalog`` (``ingest.standin.tv_routes``) and its daily TV exports;
and its own ``/__stats`` (the counters as JSON) and ``POST /__day?day=N`` (move the clock).
Errors carry TMDB's bodies (401 status_code 7, 404 34, 429 25, 400 22, 422 20, 5xx).
Faults a client must survive (the gate in front of every route, ``ingest.standin.gate``):
an enforced request rate over a sliding one-second window, a limit on requests in
flight, random 5xx/429s, stalled responses, latency; and hostile 200s
(``ingest.standin.hostile``: wrong ids, swapped bodies, a drip, a huge record, broken
discover pages).

Start it with ``Standin.serve``::

    catalog = Catalog.synthetic({80: 300}, seed=1)
    tv = TvCatalog.synthetic({80: 200, 10768: 100}, seed=1, movie_ids=catalog.movies)
    standin = Standin(catalog, tv=tv, rate_limit=40)
    async with standin.serve():
        standin.url             # e.g. http://127.0.0.1:40123 (no /3)
        standin.day = 3         # the catalogue three days on
        standin.counters.requests["movie"]
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ingest.standin.bodies import GENRE_NAMES
from ingest.standin.catalog import Catalog
from ingest.standin.constants import STANDIN_API_KEY, STANDIN_TOKEN
from ingest.standin.counters import Counters, query_label
from ingest.standin.errors import ERR_INPUT, ERR_NOT_FOUND, ERR_PAGE, json_response
from ingest.standin.exports import Lines, add_file_host, add_routes, universe_files
from ingest.standin.gate import Gate, check_rate_model
from ingest.standin.hostile import check_faults, drip, item_body, page_body
from ingest.standin.listings import changes_days, changes_page, discover_page, page_of
from ingest.standin.tv_catalog import TvCatalog
from ingest.standin.tv_routes import add_tv_routes

if TYPE_CHECKING:
    from ingest.standin.universe import Universe


class Standin(Gate):
    """The app and its knobs; knobs are plain attributes a test may change between runs.

    What stands in front of every route (counting, auth, limits, faults) is the ``Gate``
    (``ingest.standin.gate``); the routes are here."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        token: str | None = STANDIN_TOKEN,
        api_key: str | None = STANDIN_API_KEY,
        rate_limit: float | None = None,
        rate_model: str = "sliding",
        burst: float | None = None,
        retry_after: bool = True,
        max_connections: int | None = None,
        latency_s: float = 0.0,
        failure_rate: float = 0.0,
        stall_ids: Collection[int] = (),
        stall_times: int = 1,
        stall_rate: float = 0.0,
        stall_s: float = 5.0,
        gone_ids: Collection[int] = (),
        broken_ids: Collection[int] = (),
        undated_first_desc: bool = True,
        hostile: Mapping[int, str] | None = None,
        page_fault: str | None = None,
        drip_s: float = 1.0,
        huge_bytes: int = 50_000_000,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        day: int | None = None,
        universe: Universe | None = None,
        tv: TvCatalog | None = None,
    ) -> None:
        # The whole catalogue (``ingest.standin.universe``): exports, details and changes
        # answer from it instead of ``catalog``.
        self.universe = universe
        # The day-0 (or earliest) catalogue, so the clock can also be set back.
        self._origin = catalog
        self.catalog = catalog
        # The TV catalogue (none: TMDB's TV genres, no series), on the movies' day; its
        # earliest day kept, as the movies', and for its exports of earlier days.
        self._tv_origin = tv if tv is not None else TvCatalog()
        self.tv = self._tv_origin.at_day(max(self._tv_origin.day, catalog.day))
        self.token = token
        self.api_key = api_key
        # Requests per second; more are answered 429 status_code 25. Enforced over a sliding
        # 1 s window, or by a token bucket of ``burst`` tokens (``ingest.standin.gate``).
        self.rate_limit = rate_limit
        self.rate_model = check_rate_model(rate_model)
        self.burst = burst
        self.retry_after = retry_after
        # More requests than this in flight are refused with 429 (TMDB's per-IP limit).
        self.max_connections = max_connections
        self.latency_s = latency_s
        # Share of requests answered with a random 5xx or 429 (half each).
        self.failure_rate = failure_rate
        # Movie ids whose first ``stall_times`` requests hang for ``stall_s``.
        self.stall_ids = set(stall_ids)
        self.stall_times = stall_times
        self.stall_rate = stall_rate
        self.stall_s = stall_s
        # Movies discover lists but whose details answer 404 (deleted since).
        self.gone_ids = set(gone_ids)
        # Movies whose details always answer 503, until a test clears the set.
        self.broken_ids = set(broken_ids)
        # Where a descending date sort puts undated movies: first (PostgreSQL's NULLS FIRST),
        # or last, where no page can reach them in a big genre.
        self.undated_first_desc = undated_first_desc
        # Hostile 200s (ingest.standin.hostile): movie or collection id -> fault, and the
        # fault of every discover page.
        self.hostile = dict(hostile or {})
        self.page_fault = page_fault
        check_faults(self.hostile, page_fault)
        self.drip_s = drip_s
        self.huge_bytes = huge_bytes
        self.counters = Counters()
        # The root URL (without /3) while serving.
        self.url = ""
        self._rng = random.Random(seed)
        self._clock = clock
        self._window: collections.deque[float] = collections.deque()
        self._stall_seen: collections.Counter[int] = collections.Counter()
        self._queries: dict[tuple[Any, ...], list[int]] = {}
        self._closing = asyncio.Event()
        if day is not None:
            self.day = day

    @property
    def day(self) -> int:
        """The day of the stand-in's calendar that discover, details and changes serve."""
        return self.catalog.day

    @day.setter
    def day(self, day: int) -> None:
        start = self.catalog if day >= self.catalog.day else self._origin
        self.catalog = start.at_day(day)
        self.tv = self.tv.at_day(day) if day >= self.tv.day else self._tv_at(day) or self._tv_origin
        self._queries.clear()

    def _tv_at(self, day: int) -> TvCatalog | None:
        """The TV catalogue on ``day``, or None before its earliest day."""
        if day == self.tv.day:
            return self.tv
        return self._tv_origin.at_day(day) if day >= self._tv_origin.day else None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        if self.universe is not None:
            # First, so its routes answer before the catalogue's.
            add_routes(app, self, self.universe)
        add_file_host(app, self, universe_files(self.universe) if self.universe else {}, self._tv_files())
        add_tv_routes(app, self)
        app.router.add_get("/3/discover/movie", self._discover)
        app.router.add_get("/3/movie/changes", self._changes)
        app.router.add_get(r"/3/movie/{id:\d+}", self._movie)
        app.router.add_get(r"/3/movie/{id:\d+}/keywords", self._keywords)
        app.router.add_get(r"/3/collection/{id:\d+}", self._collection)
        app.router.add_get("/3/genre/movie/list", self._genres)
        app.router.add_get("/3/authentication", self._authentication)
        app.router.add_get("/__stats", self._stats)
        app.router.add_post("/__day", self._set_day)
        return app

    @asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on ``host:port`` (0: a free port); yield the root URL (without ``/3``)."""
        # handler_cancellation: a client that gives up on a stalled request frees its handler.
        self._closing = asyncio.Event()
        runner = web.AppRunner(self.app(), handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        self.url = f"http://{host}:{bound}"
        try:
            yield self.url
        finally:
            self._closing.set()
            await runner.cleanup()
            self.url = ""

    def _tv_files(self) -> dict[str, Lines]:
        """TMDB's TV exports: the series, and apart from them the adult ones."""

        def lines(adult: bool) -> Lines:
            def of_day(day: int) -> Iterator[bytes] | None:
                tv = self._tv_at(day)
                return None if tv is None else tv.export_lines(adult=adult)

            return of_day

        return {"tv_series": lines(False), "adult_tv_series": lines(True)}

    # Routes ------------------------------------------------------------------------------

    async def _discover(self, request: web.Request) -> web.Response:
        q = request.query
        self.counters.discover_queries[query_label(q)] += 1
        page = page_of(q)
        if page is None:
            return json_response(ERR_PAGE, 400)
        key = (*sorted((k, v) for k, v in q.items() if k not in ("page", "api_key")), self.undated_first_desc)
        ids = self._queries.get(key)
        if ids is None:
            if len(self._queries) > 512:
                self._queries.clear()
            ids = self._queries[key] = self.catalog.discover(q, undated_first_desc=self.undated_first_desc)
        return json_response(page_body(self.page_fault, discover_page(self.catalog, ids, page)))

    async def _changes(self, request: web.Request) -> web.Response:
        q = request.query
        self.counters.changes_queries[(q.get("start_date", ""), q.get("end_date", ""))] += 1
        page = page_of(request.query)
        if page is None:
            return json_response(ERR_PAGE, 400)
        days = changes_days(request.query, self.catalog.date)
        if isinstance(days, dict):
            return json_response(days, 422)
        return json_response(changes_page(self.catalog.changed_between(*days), page))

    async def _movie(self, request: web.Request) -> web.StreamResponse:
        movie_id = int(request.match_info["id"])
        if movie_id not in self.catalog.movies or movie_id in self.gone_ids:
            return json_response(ERR_NOT_FOUND, 404)
        append = set(request.query.get("append_to_response", "").split(","))
        self.counters.movie_ok[movie_id] += 1
        body = self.catalog.detail(movie_id, append)
        if movie_id in self.hostile:
            other = min(i for i in self.catalog.movies if i != movie_id)
            return await self._hostile(request, movie_id, body, lambda: self.catalog.detail(other, append))
        return json_response(body)

    async def _hostile(
        self, request: web.Request, item: int, body: dict[str, Any], other: Callable[[], dict[str, Any]]
    ) -> web.StreamResponse:
        fault = self.hostile[item]
        if fault == "drip":
            return await drip(request, body, self.drip_s)
        return json_response(item_body(fault, body, other() if fault == "swapped" else {}, self.huge_bytes))

    async def _keywords(self, request: web.Request) -> web.Response:
        movie_id = int(request.match_info["id"])
        if movie_id not in self.catalog.movies or movie_id in self.gone_ids:
            return json_response(ERR_NOT_FOUND, 404)
        return json_response(self.catalog.keywords(movie_id))

    async def _collection(self, request: web.Request) -> web.StreamResponse:
        collection_id = int(request.match_info["id"])
        if collection_id not in self.catalog.collections:
            return json_response(ERR_NOT_FOUND, 404)
        body = self.catalog.collection(collection_id)
        if collection_id in self.hostile:
            other = min(i for i in self.catalog.collections if i != collection_id)
            return await self._hostile(request, collection_id, body, lambda: self.catalog.collection(other))
        return json_response(body)

    async def _genres(self, _request: web.Request) -> web.Response:
        return json_response({"genres": [{"id": k, "name": v} for k, v in GENRE_NAMES.items()]})

    async def _authentication(self, _request: web.Request) -> web.Response:
        # TMDB's check of the credentials: the gate has already answered 401 to bad ones.
        return json_response({"success": True, "status_code": 1, "status_message": "Success."})

    async def _stats(self, _request: web.Request) -> web.Response:
        clock = {"day": self.day, "date": self.catalog.date.isoformat()}
        return json_response(self.counters.as_dict() | clock)

    async def _set_day(self, request: web.Request) -> web.Response:
        try:
            self.day = int(request.query["day"])
        except (KeyError, ValueError):
            return json_response(ERR_INPUT, 422)
        return json_response({"day": self.day, "date": self.catalog.date.isoformat()})
