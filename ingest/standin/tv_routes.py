"""The stand-in's TV routes: TMDB's TV API over a ``TvCatalog``.

``/3/genre/tv/list``; ``/3/discover/tv`` (20 a page, pages 1 to 500, ``with_genres``,
``sort_by``, ``first_air_date.gte/.lte``, ``include_adult``,
``include_null_first_air_dates``); ``/3/tv/{id}`` with ``append_to_response`` (at most 20
names, 400 status_code 27 beyond; the sub-resources of ``tv_bodies.SUB_RESOURCES``);
``/3/tv/{id}/keywords``, ``/external_ids``, ``/credits``, ``/aggregate_credits``,
``/content_ratings``, ``/watch/providers``; ``/3/tv/changes`` (100 ids a page, at most 14 days). Unknown ids
answer TMDB's 404 (status_code 34). They stand behind the same gate as the movie routes
(``ingest.standin.gate``): the same credentials, rate window and faults, one per-IP
budget for movies and series together.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from aiohttp import web

from ingest.standin.constants import CHANGES_PAGE_SIZE, PAGE_SIZE
from ingest.standin.counters import Counters, query_label
from ingest.standin.errors import ERR_APPEND, ERR_NOT_FOUND, ERR_PAGE, json_response
from ingest.standin.listings import changes_days, page_of
from ingest.standin.tv_bodies import MAX_APPEND, SUB_RESOURCES, TV_GENRE_NAMES
from ingest.standin.tv_catalog import TvCatalog


class TvHost(Protocol):
    """What the TV routes read of the stand-in that serves them (``app.Standin``)."""

    counters: Counters
    tv: TvCatalog
    undated_first_desc: bool


def add_tv_routes(app: web.Application, host: TvHost) -> None:
    """Route TMDB's TV paths to ``host.tv`` (read on every request: the clock moves it)."""
    routes = _TvRoutes(host)
    names = "|".join(SUB_RESOURCES)
    app.router.add_get("/3/genre/tv/list", routes.genres)
    app.router.add_get("/3/discover/tv", routes.discover)
    app.router.add_get("/3/tv/changes", routes.changes)
    app.router.add_get(r"/3/tv/{id:\d+}", routes.details)
    app.router.add_get(rf"/3/tv/{{id:\d+}}/{{name:{names}}}", routes.sub_resource)


class _TvRoutes:
    __slots__ = ("host", "queries")

    def __init__(self, host: TvHost) -> None:
        self.host = host
        # The ids of a discover query, all pages, per catalogue (its day and its object).
        self.queries: dict[tuple[Any, ...], list[int]] = {}

    async def genres(self, _request: web.Request) -> web.Response:
        return json_response({"genres": [{"id": k, "name": v} for k, v in TV_GENRE_NAMES.items()]})

    async def discover(self, request: web.Request) -> web.Response:
        q = request.query
        self.host.counters.discover_tv_queries[query_label(q)] += 1
        page = page_of(q)
        if page is None:
            return json_response(ERR_PAGE, 400)
        tv = self.host.tv
        params = sorted((k, v) for k, v in q.items() if k not in ("page", "api_key"))
        key = (tv.day, id(tv), *params, self.host.undated_first_desc)
        ids = self.queries.get(key)
        if ids is None:
            if len(self.queries) > 512:
                self.queries.clear()
            ids = self.queries[key] = tv.discover(q, undated_first_desc=self.host.undated_first_desc)
        chunk = ids[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return json_response(
            {
                "page": page,
                "results": [tv.summary(i) for i in chunk],
                "total_pages": math.ceil(len(ids) / PAGE_SIZE),
                "total_results": len(ids),
            }
        )

    async def changes(self, request: web.Request) -> web.Response:
        q = request.query
        self.host.counters.tv_changes_queries[(q.get("start_date", ""), q.get("end_date", ""))] += 1
        page = page_of(q)
        if page is None:
            return json_response(ERR_PAGE, 400)
        tv = self.host.tv
        days = changes_days(q, tv.date)
        if isinstance(days, dict):
            return json_response(days, 422)
        ids = tv.changed_between(*days)
        chunk = ids[(page - 1) * CHANGES_PAGE_SIZE : page * CHANGES_PAGE_SIZE]
        return json_response(
            {
                # A removed series is no longer in the catalogue: listed, adult false.
                "results": [{"id": i, "adult": i in tv.series and tv.series[i].adult} for i in chunk],
                "page": page,
                "total_pages": max(1, math.ceil(len(ids) / CHANGES_PAGE_SIZE)),
                "total_results": len(ids),
            }
        )

    async def details(self, request: web.Request) -> web.Response:
        series_id = int(request.match_info["id"])
        tv = self.host.tv
        if series_id not in tv.series:
            return json_response(ERR_NOT_FOUND, 404)
        append = [a for a in request.query.get("append_to_response", "").split(",") if a]
        if len(append) > MAX_APPEND:
            return json_response(ERR_APPEND, 400)
        self.host.counters.series_ok[series_id] += 1
        return json_response(tv.detail(series_id, append))

    async def sub_resource(self, request: web.Request) -> web.Response:
        series_id = int(request.match_info["id"])
        tv = self.host.tv
        if series_id not in tv.series:
            return json_response(ERR_NOT_FOUND, 404)
        return json_response(tv.sub_resource(series_id, request.match_info["name"]))
