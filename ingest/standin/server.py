"""A stand-in for TMDB's API v3: a seeded synthetic catalog behind an ``aiohttp.web`` app.

It serves the real response shapes (``/3/discover/movie`` pages with ``total_results`` /
``total_pages`` and the 500-page refusal, ``/3/movie/{id}?append_to_response=keywords``,
``/3/collection/{id}``) and TMDB's error bodies (401 status_code 7, 404 status_code 34,
429 status_code 25, 400 status_code 22, 5xx), and the faults a client must survive: an
enforced request rate over a sliding one-second window, random 5xx/429s, stalled
responses, latency. Counters record what the client really did.

Used by the tests, the benchmarks, the service helper and the dev demo::

    catalog = Catalog.synthetic(sizes={80: 14000, 10752: 3000}, seed=1)
    fake = FakeTmdb(catalog, rate_limit=40, failure_rate=0.05)
    async with fake.serve() as base_url:   # e.g. http://127.0.0.1:40123 (no /3)
        ...
    fake.counters.requests["movie"]

or from a shell (prints ``serving http://127.0.0.1:8765`` once ready)::

    python -m ingest.standin --port 8765 --crime 3000 --war 1500 --rate 40 --latency-ms 50

Null release dates follow PostgreSQL's ordering (last when ascending, first when
descending) and are left out by any ``primary_release_date`` filter, as on TMDB.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import random
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

FAKE_TOKEN = "fake-tmdb-read-access-token-0b1c2d3e4f"
FAKE_API_KEY = "fakeapikey0123456789abcdef0123456"
PAGE_SIZE = 20
MAX_PAGE = 500

GENRE_NAMES = {
    28: "Action",
    12: "Adventure",
    16: "Animation",
    35: "Comedy",
    80: "Crime",
    99: "Documentary",
    18: "Drama",
    10751: "Family",
    14: "Fantasy",
    36: "History",
    27: "Horror",
    10402: "Music",
    9648: "Mystery",
    10749: "Romance",
    878: "Science Fiction",
    10770: "TV Movie",
    53: "Thriller",
    10752: "War",
    37: "Western",
}
# Genres a synthetic movie may carry besides the one it was made for.
_EXTRA_GENRES = (18, 53, 28, 36, 10749, 9648, 12)

_WORDS = (
    "Último",
    "Guerra",
    "Noite",
    "Cidade",
    "Coração",
    "Ação",
    "Sombra",
    "Lágrimas",
    "Éclair",
    "Frères",
    "Ímpeto",
    "Mañana",
    "Café",
    "Straße",
    "Sangue",
    "Ouro",
    "Fronteira",
    "Silence",
    "Empire",
    "Heist",
    "Soldier",
    "River",
    "Winter",
    "Code",
)
_KEYWORDS = (
    "world war ii",
    "heist",
    "mafia",
    "detective",
    "resistance",
    "prison",
    "revenge",
    "based on novel or book",
    "gangster",
    "espionage",
    "battlefield",
    "trial",
    "corruption",
    "femme fatale",
    "cold war",
    "biography",
    "nazi",
    "police",
    "drug cartel",
    "survival",
    "vietnam war",
    "serial killer",
    "courtroom",
    "hitman",
    "navy",
    "submarine",
    "ss",
)
_LANGS = (
    ("en", "English", "English"),
    ("fr", "French", "Français"),
    ("pt", "Portuguese", "Português"),
    ("de", "German", "Deutsch"),
    ("ja", "Japanese", "日本語"),
    ("es", "Spanish", "Español"),
)
_COUNTRIES = (
    ("US", "United States of America"),
    ("FR", "France"),
    ("BR", "Brazil"),
    ("DE", "Germany"),
    ("JP", "Japan"),
    ("GB", "United Kingdom"),
)

ERR_AUTH = {
    "status_code": 7,
    "status_message": "Invalid API key: You must be granted a valid key.",
    "success": False,
}
ERR_NOT_FOUND = {
    "success": False,
    "status_code": 34,
    "status_message": "The resource you requested could not be found.",
}
ERR_PAGE = {
    "success": False,
    "status_code": 22,
    "status_message": "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer.",
}
_ERR_5XX = {
    500: {
        "success": False,
        "status_code": 11,
        "status_message": "Internal error: Something went wrong, contact TMDB.",
    },
    502: {"success": False, "status_code": 43, "status_message": "Couldn't connect to the backend server."},
    503: {
        "success": False,
        "status_code": 9,
        "status_message": "Service offline: This service is temporarily offline, try again later.",
    },
    504: {
        "success": False,
        "status_code": 24,
        "status_message": "Your request to the backend server timed out. Try again.",
    },
}


def _err_rate(limit: float) -> dict[str, Any]:
    return {
        "success": False,
        "status_code": 25,
        "status_message": f"Your request count (#) is over the allowed limit of ({limit:g}).",
    }


@dataclass(slots=True)
class FakeMovie:
    id: int
    title: str
    genre_ids: list[int]
    popularity: float
    # "" when TMDB has no release date for it.
    release_date: str
    collection_id: int | None = None


@dataclass(slots=True)
class FakeCollection:
    id: int
    name: str
    movie_ids: list[int]


@dataclass(slots=True)
class Catalog:
    """The movies and collections the fake serves; detail bodies are derived per id."""

    movies: dict[int, FakeMovie]
    collections: dict[int, FakeCollection]
    seed: int = 1

    @classmethod
    def synthetic(
        cls,
        sizes: Mapping[int, int],
        *,
        seed: int = 1,
        overlap: float = 0.1,
        no_date_share: float = 0.01,
        collection_share: float = 0.3,
    ) -> Catalog:
        """``sizes[genre_id]`` movies carry that genre (exactly); a share ``overlap`` of each
        later genre's movies are taken from the genres made before it."""
        rng = random.Random(seed)
        movies: dict[int, FakeMovie] = {}
        next_id = 11
        for genre_id, size in sizes.items():
            others = [m for m in movies.values() if genre_id not in m.genre_ids]
            shared = rng.sample(others, min(len(others), int(size * overlap)))
            for movie in shared:
                movie.genre_ids.append(genre_id)
            for _ in range(size - len(shared)):
                next_id += rng.randint(1, 40)
                genres = [genre_id]
                if rng.random() < 0.6:
                    extra = rng.choice(_EXTRA_GENRES)
                    if extra != genre_id and extra not in sizes:
                        genres.append(extra)
                movies[next_id] = FakeMovie(
                    id=next_id,
                    title=" ".join(rng.sample(_WORDS, rng.randint(1, 3))),
                    genre_ids=genres,
                    popularity=_popularity(rng),
                    release_date="" if rng.random() < no_date_share else _release_date(rng),
                )
        collections: dict[int, FakeCollection] = {}
        pool = [m for m in movies.values() if rng.random() < collection_share]
        rng.shuffle(pool)
        next_cid = 8_000
        while pool:
            size = min(len(pool), rng.randint(2, 6))
            members, pool = pool[:size], pool[size:]
            next_cid += rng.randint(1, 30)
            name = f"{members[0].title} Collection"
            collections[next_cid] = FakeCollection(next_cid, name, [m.id for m in members])
            for m in members:
                m.collection_id = next_cid
        return cls(movies=movies, collections=collections, seed=seed)

    def genre_ids(self, genre_id: int) -> set[int]:
        return {m.id for m in self.movies.values() if genre_id in m.genre_ids}

    def collection_ids(self, movie_ids: Iterable[int]) -> set[int]:
        return {cid for i in movie_ids if (cid := self.movies[i].collection_id) is not None}

    # Wire shapes -------------------------------------------------------------------------

    def _rng(self, kind: int, item_id: int) -> random.Random:
        return random.Random(self.seed * 1_000_003 + kind * 7_919 + item_id)

    def summary(self, movie: FakeMovie) -> dict[str, Any]:
        """A movie as discover's ``results`` and a collection's ``parts`` list it."""
        rng = self._rng(1, movie.id)
        lang = rng.choice(_LANGS)
        return {
            "adult": False,
            "backdrop_path": f"/{_path_token(rng)}.jpg",
            "genre_ids": list(movie.genre_ids),
            "id": movie.id,
            "original_language": lang[0],
            "original_title": movie.title,
            "overview": _overview(rng),
            "popularity": movie.popularity,
            "poster_path": f"/{_path_token(rng)}.jpg",
            "release_date": movie.release_date,
            "title": movie.title,
            "video": False,
            "vote_average": round(rng.uniform(3, 9), 3),
            "vote_count": rng.randint(0, 30_000),
        }

    def detail(self, movie_id: int, append: Collection[str] = ()) -> dict[str, Any]:
        movie = self.movies[movie_id]
        summary = self.summary(movie)
        rng = self._rng(2, movie_id)
        coll = self.collections.get(movie.collection_id) if movie.collection_id else None
        country = rng.choice(_COUNTRIES)
        lang = next(x for x in _LANGS if x[0] == summary["original_language"])
        body: dict[str, Any] = {
            "adult": False,
            "backdrop_path": summary["backdrop_path"],
            "belongs_to_collection": None
            if coll is None
            else {
                "id": coll.id,
                "name": coll.name,
                "poster_path": f"/{_path_token(self._rng(3, coll.id))}.jpg",
                "backdrop_path": f"/{_path_token(self._rng(4, coll.id))}.jpg",
            },
            "budget": rng.choice((0, rng.randint(1, 200) * 100_000)),
            "genres": [{"id": g, "name": GENRE_NAMES.get(g, "Drama")} for g in movie.genre_ids],
            "homepage": rng.choice(("", f"https://example.org/films/{movie_id}")),
            "id": movie_id,
            "imdb_id": f"tt{rng.randint(1, 9_999_999):07d}",
            "origin_country": [country[0]],
            "original_language": lang[0],
            "original_title": movie.title,
            "overview": summary["overview"],
            "popularity": movie.popularity,
            "poster_path": summary["poster_path"],
            "production_companies": [
                {
                    "id": rng.randint(1, 200_000),
                    "logo_path": rng.choice((None, "/logo.png")),
                    "name": f"{rng.choice(_WORDS)} Filmes",
                    "origin_country": country[0],
                }
                for _ in range(rng.randint(0, 3))
            ],
            "production_countries": [{"iso_3166_1": country[0], "name": country[1]}],
            "release_date": movie.release_date,
            "revenue": rng.choice((0, rng.randint(1, 900) * 1_000_000)),
            "runtime": rng.randint(70, 190),
            "spoken_languages": [{"english_name": lang[1], "iso_639_1": lang[0], "name": lang[2]}],
            "status": "Released" if movie.release_date else "In Production",
            "tagline": rng.choice(("", f"A história de {movie.title}.")),
            "title": movie.title,
            "video": False,
            "vote_average": summary["vote_average"],
            "vote_count": summary["vote_count"],
        }
        if "keywords" in append:
            words = rng.sample(_KEYWORDS, rng.randint(0, 6))
            body["keywords"] = {"keywords": [{"id": 1000 + _KEYWORDS.index(w), "name": w} for w in words]}
        return body

    def collection(self, collection_id: int) -> dict[str, Any]:
        coll = self.collections[collection_id]
        rng = self._rng(5, collection_id)
        parts = []
        for movie_id in coll.movie_ids:
            part = self.summary(self.movies[movie_id])
            part["media_type"] = "movie"
            parts.append(part)
        return {
            "id": coll.id,
            "name": coll.name,
            "overview": _overview(rng),
            "poster_path": f"/{_path_token(self._rng(3, coll.id))}.jpg",
            "backdrop_path": f"/{_path_token(self._rng(4, coll.id))}.jpg",
            "parts": parts,
        }


def _popularity(rng: random.Random) -> float:
    # Long tail, and a crowd of obscure films tied at the same low values, as on TMDB.
    if rng.random() < 0.25:
        return round(0.6 + rng.randint(0, 4) * 0.1, 3)
    return round(0.6 + rng.lognormvariate(0.5, 1.3), 3)


def _release_date(rng: random.Random) -> str:
    year = max(1900, 2025 - int(rng.expovariate(1 / 18)))
    return f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _path_token(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789") for _ in range(27))


def _overview(rng: random.Random) -> str:
    words = [rng.choice(_WORDS).lower() for _ in range(rng.randint(12, 40))]
    return "Em São Paulo, " + " ".join(words) + "; à noite, tudo muda."


@dataclass
class Counters:
    """What the client did, as the server saw it."""

    # Requests by endpoint: "discover", "movie", "collection", "other".
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    status: collections.Counter[int] = field(default_factory=collections.Counter)
    # Attempts per movie / collection id, whatever the answer.
    movie_requests: collections.Counter[int] = field(default_factory=collections.Counter)
    movie_ok: collections.Counter[int] = field(default_factory=collections.Counter)
    collection_requests: collections.Counter[int] = field(default_factory=collections.Counter)
    discover_queries: collections.Counter[str] = field(default_factory=collections.Counter)
    # 429s sent because the enforced rate was passed (not the injected ones).
    throttled: int = 0
    throttled_with_retry_after: int = 0
    injected_429: int = 0
    injected_5xx: int = 0
    stalled: int = 0
    unauthorized: int = 0
    refused_connections: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "requests": dict(self.requests),
            "status": {str(k): v for k, v in sorted(self.status.items())},
            "distinct_movies_ok": len(self.movie_ok),
            "throttled": self.throttled,
            "throttled_with_retry_after": self.throttled_with_retry_after,
            "injected_429": self.injected_429,
            "injected_5xx": self.injected_5xx,
            "stalled": self.stalled,
            "unauthorized": self.unauthorized,
            "refused_connections": self.refused_connections,
            "peak_in_flight": self.peak_in_flight,
        }


class FakeTmdb:
    """The app and its knobs; knobs are plain attributes a test may change between runs."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        token: str | None = FAKE_TOKEN,
        api_key: str | None = FAKE_API_KEY,
        rate_limit: float | None = None,
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
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.token = token
        self.api_key = api_key
        # Requests per second over a sliding 1 s window; more are answered 429 status_code 25.
        self.rate_limit = rate_limit
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
        self.counters = Counters()
        self._rng = random.Random(seed)
        self._clock = clock
        self._window: collections.deque[float] = collections.deque()
        self._stall_seen: collections.Counter[int] = collections.Counter()
        self._queries: dict[tuple[Any, ...], list[int]] = {}
        self._closing = asyncio.Event()

    # App ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        app.router.add_get("/3/discover/movie", self._discover)
        app.router.add_get(r"/3/movie/{id:\d+}", self._movie)
        app.router.add_get(r"/3/collection/{id:\d+}", self._collection)
        app.router.add_get("/3/genre/movie/list", self._genres)
        app.router.add_get("/__stats", self._stats)
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
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        try:
            yield f"http://{host}:{bound}"
        finally:
            self._closing.set()
            await runner.cleanup()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if request.path == "/__stats":
            return await handler(request)  # type: ignore[no-any-return]
        c = self.counters
        endpoint = request.path.split("/")[2] if request.path.count("/") >= 2 else "other"
        endpoint = endpoint if endpoint in ("discover", "movie", "collection") else "other"
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
        c = self.counters
        if not self._authorised(request):
            c.unauthorized += 1
            return _json(ERR_AUTH, 401)
        if self.max_connections is not None and c.in_flight > self.max_connections:
            c.refused_connections += 1
            return _json(_err_rate(self.max_connections), 429)
        if self.rate_limit is not None:
            now = self._clock()
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                c.throttled += 1
                headers = {}
                if self.retry_after:
                    c.throttled_with_retry_after += 1
                    wait = self._window[0] + 1.0 - now
                    headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return _json(_err_rate(self.rate_limit), 429, headers)
            self._window.append(now)
        if self.failure_rate and self._rng.random() < self.failure_rate:
            if self._rng.random() < 0.5:
                c.injected_429 += 1
                hint = self.retry_after and self._rng.random() < 0.5
                headers = {"Retry-After": "1"} if hint else {}
                return _json(_err_rate(self.rate_limit or 40), 429, headers)
            c.injected_5xx += 1
            status = self._rng.choice(tuple(_ERR_5XX))
            return _json(_ERR_5XX[status], status)
        item = request.match_info.get("id")
        if endpoint == "movie" and item is not None and int(item) in self.broken_ids:
            return _json(_ERR_5XX[503], 503)
        if self._should_stall(request, endpoint):
            c.stalled += 1
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.stall_s)
        if self.latency_s:
            await asyncio.sleep(self.latency_s * (0.5 + self._rng.random()))
        return await handler(request)  # type: ignore[no-any-return]

    def _authorised(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        if self.token and auth == f"Bearer {self.token}":
            return True
        return bool(self.api_key) and request.query.get("api_key") == self.api_key

    def _should_stall(self, request: web.Request, endpoint: str) -> bool:
        if endpoint == "movie":
            movie_id = int(request.match_info["id"])
            if movie_id in self.stall_ids and self._stall_seen[movie_id] < self.stall_times:
                self._stall_seen[movie_id] += 1
                return True
        return bool(self.stall_rate) and self._rng.random() < self.stall_rate

    # Endpoints ---------------------------------------------------------------------------

    async def _discover(self, request: web.Request) -> web.Response:
        q = request.query
        self.counters.discover_queries[_query_label(q)] += 1
        try:
            page = int(q.get("page", "1"))
        except ValueError:
            return _json(ERR_PAGE, 400)
        if not 1 <= page <= MAX_PAGE:
            return _json(ERR_PAGE, 400)
        ids = self._query(q)
        chunk = ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        movies = self.catalog.movies
        return _json(
            {
                "page": page,
                "results": [self.catalog.summary(movies[i]) for i in chunk],
                "total_pages": math.ceil(len(ids) / PAGE_SIZE),
                "total_results": len(ids),
            }
        )

    def _query(self, q: Mapping[str, str]) -> list[int]:
        genres = q.get("with_genres", "")
        sort_by = q.get("sort_by", "popularity.desc")
        gte, lte = q.get("primary_release_date.gte"), q.get("primary_release_date.lte")
        key = (genres, sort_by, gte, lte, self.undated_first_desc)
        if key in self._queries:
            return self._queries[key]
        if "|" in genres:
            wanted, mode = {int(g) for g in genres.split("|") if g}, any
        else:
            wanted, mode = {int(g) for g in genres.split(",") if g}, all
        found = [
            m
            for m in self.catalog.movies.values()
            if (not wanted or mode(g in m.genre_ids for g in wanted))
            and (gte is None or (m.release_date and m.release_date >= gte))
            and (lte is None or (m.release_date and m.release_date <= lte))
        ]
        field_, _, order = sort_by.partition(".")
        if field_ == "primary_release_date":
            dated = sorted((m for m in found if m.release_date), key=lambda m: (m.release_date, m.id))
            undated = sorted((m for m in found if not m.release_date), key=lambda m: m.id)
            if order != "desc":
                found = dated + undated
            elif self.undated_first_desc:
                found = undated + dated[::-1]
            else:
                found = dated[::-1] + undated
        else:
            found.sort(key=lambda m: (m.popularity, -m.id), reverse=order != "asc")
        ids = [m.id for m in found]
        if len(self._queries) > 512:
            self._queries.clear()
        self._queries[key] = ids
        return ids

    async def _movie(self, request: web.Request) -> web.Response:
        movie_id = int(request.match_info["id"])
        if movie_id not in self.catalog.movies or movie_id in self.gone_ids:
            return _json(ERR_NOT_FOUND, 404)
        append = set(request.query.get("append_to_response", "").split(","))
        self.counters.movie_ok[movie_id] += 1
        return _json(self.catalog.detail(movie_id, append))

    async def _collection(self, request: web.Request) -> web.Response:
        collection_id = int(request.match_info["id"])
        if collection_id not in self.catalog.collections:
            return _json(ERR_NOT_FOUND, 404)
        return _json(self.catalog.collection(collection_id))

    async def _genres(self, _request: web.Request) -> web.Response:
        return _json({"genres": [{"id": k, "name": v} for k, v in GENRE_NAMES.items()]})

    async def _stats(self, _request: web.Request) -> web.Response:
        return _json(self.counters.as_dict())


def _query_label(q: Mapping[str, str]) -> str:
    parts = [f"{k}={q[k]}" for k in sorted(q) if k not in ("page", "api_key")]
    return "&".join(parts)


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # TMDB answers compact JSON, UTF-8, non-ASCII characters unescaped.
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


# Command line ------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ingest.standin", description=(__doc__ or "").split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--crime", type=int, default=0, help="movies in Crime (80)")
    p.add_argument("--war", type=int, default=0, help="movies in War (10752)")
    p.add_argument(
        "--genre",
        action="append",
        default=[],
        metavar="ID=N",
        help="movies in another genre, e.g. 18=5000 (repeatable)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--token", default=FAKE_TOKEN)
    p.add_argument("--api-key", default=FAKE_API_KEY)
    p.add_argument("--rate", type=float, default=None, help="enforced requests/s (sliding 1 s)")
    p.add_argument("--no-retry-after", action="store_true", help="429s without Retry-After")
    p.add_argument("--max-connections", type=int, default=None)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--failure-rate", type=float, default=0.0, help="share of random 5xx/429s")
    p.add_argument("--stall-rate", type=float, default=0.0)
    p.add_argument("--stall-s", type=float, default=5.0)
    return p.parse_args(argv)


async def _main(
    args: argparse.Namespace,
    *,
    fake_cls: type[FakeTmdb] | None = None,
    ready_file: Path | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; ``fake_cls`` lets the benchmark serve its subclass."""
    sizes: dict[int, int] = {}
    if args.crime:
        sizes[80] = args.crime
    if args.war:
        sizes[10752] = args.war
    for spec in args.genre:
        gid, _, n = spec.partition("=")
        sizes[int(gid)] = int(n)
    catalog = Catalog.synthetic(sizes or {80: 300, 10752: 150}, seed=args.seed)
    fake = (fake_cls or FakeTmdb)(
        catalog,
        token=args.token,
        api_key=args.api_key,
        rate_limit=args.rate,
        retry_after=not args.no_retry_after,
        max_connections=args.max_connections,
        latency_s=args.latency_ms / 1000,
        failure_rate=args.failure_rate,
        stall_rate=args.stall_rate,
        stall_s=args.stall_s,
        seed=args.seed,
    )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    async with fake.serve(args.host, args.port) as url:
        if ready_file:
            ready_file.write_text(url)  # noqa: ASYNC240 - a few bytes, once, at start-up
        print(f"serving {url}", flush=True)
        print(
            f"TMDB_BASE_URL={url} TMDB_READ_ACCESS_TOKEN={args.token}  "
            f"genres: {', '.join(f'{g}={n}' for g, n in sizes.items())}  "
            f"collections: {len(catalog.collections)}  counters: {url}/__stats",
            file=sys.stderr,
            flush=True,
        )
        await done.wait()
    print(orjson.dumps(fake.counters.as_dict()).decode(), flush=True)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(_main(_parse_args(argv)))


if __name__ == "__main__":
    main()

__all__ = ["FAKE_API_KEY", "FAKE_TOKEN", "Catalog", "Counters", "FakeTmdb"]
