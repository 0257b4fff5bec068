"""The project's fake TMDB (``tests/fake_tmdb.py``) plus what the seed's way needs.

The seed fetched keywords with a second call, ``/3/movie/{id}/keywords`` (tmdbv3api's
``Movie.keywords``); the fake serves details with ``append_to_response=keywords`` only.
This wraps the fake's app with that one route, answering TMDB's shape
(``{"id": ..., "keywords": [...]}``) from the same catalog, behind the same gate (rate
limit, connection limit, latency, counters as ``movie`` requests). Everything else is the
fake as the tests use it. Run from the repository root with the project's interpreter::

    python bench/fake_tmdb_server.py --port 0 --crime 2000 --rate 40 --max-connections 20 \
        --latency-ms 50 --ready-file PATH
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest.standin import server as ft


class BenchFakeTmdb(ft.FakeTmdb):
    """Adds the keywords route, and when the first and last request arrived (``/__stats``
    gains ``first_request_s``/``last_request_s``/``active_s``): the crawl's active window,
    apart from the client's own start-up and shut-down."""

    first_at: float | None = None
    last_at: float | None = None

    async def _answer(self, request: web.Request, handler: Any, endpoint: str) -> web.StreamResponse:
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        return await super()._answer(request, handler, endpoint)

    async def _stats(self, _request: web.Request) -> web.Response:
        body = self.counters.as_dict()
        if self.first_at is not None and self.last_at is not None:
            body |= {"active_s": round(self.last_at - self.first_at, 4)}
        return ft._json(body)

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get(r"/3/movie/{id:\d+}/keywords", self._keywords)
        return app

    async def _keywords(self, request: web.Request) -> web.Response:
        movie_id = int(request.match_info["id"])
        if movie_id not in self.catalog.movies or movie_id in self.gone_ids:
            return ft._json(ft.ERR_NOT_FOUND, 404)
        words = self.catalog.detail(movie_id, {"keywords"})["keywords"]["keywords"]
        return ft._json({"id": movie_id, "keywords": words})


async def _main(argv: list[str]) -> None:
    ready_file = None
    if "--ready-file" in argv:
        i = argv.index("--ready-file")
        ready_file = Path(argv[i + 1])
        del argv[i : i + 2]
    await ft._main(ft._parse_args(argv), fake_cls=BenchFakeTmdb, ready_file=ready_file)


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1:]))
