"""The stand-in's file host (TMDB's daily ID exports), and the API over a ``Universe``.

``GET /p/exports/<kind>_ids_MM_DD_YYYY.json.gz`` serves the export of that date, gzipped
JSON Lines generated as they are sent (never held whole), for every date from the
calendar's day 0 to the stand-in's current day; other dates answer 404, as TMDB's file
host does before a file is published. A file once made is kept (compressed, the last two
of each group of kinds) and served as it is, as a static file would be. Like TMDB's file host they
need no credentials. The kinds are what the stand-in serves (``add_file_host``): with a
``Universe``, ``movie`` and ``collection`` (``universe_files``), whose ``/3/movie/{id}``,
``/3/movie/changes`` and ``/3/collection/{id}`` answer from the same ``Universe``
(``add_routes``), so the exports, the details and the changes feed agree on every day;
and ``tv_series`` and ``adult_tv_series`` from the TV catalogue (``app.Standin``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

import orjson
from aiohttp import web

from ingest.standin.catalog import Catalog
from ingest.standin.constants import CHANGES_PAGE_SIZE, DAY0
from ingest.standin.counters import Counters
from ingest.standin.errors import ERR_NOT_FOUND, ERR_PAGE, json_response
from ingest.standin.listings import changes_days, page_of
from ingest.standin.universe import Universe


class Host(Protocol):
    """What the exports' routes read of the stand-in that serves them (``app.Standin``)."""

    counters: Counters
    catalog: Catalog

    @property
    def day(self) -> int: ...


EXPORTS_PATH = "/p/exports/"
_NAME = re.compile(r"([a-z_]+)_ids_(\d{2})_(\d{2})_(\d{4})\.json\.gz")
# Lines generated and compressed at a time.
_LINES_PER_WRITE = 5_000
# Exports kept once made, of each group of kinds (a day's movie and collection files).
_PUBLISHED_KEPT = 2
# The lines of a kind's file on a day, or None when there is no such file.
Lines = Callable[[int], Iterator[bytes] | None]


def export_name(kind: str, date: dt.date) -> str:
    """TMDB's file name: ``movie_ids_05_15_2024.json.gz``."""
    return f"{kind}_ids_{date.month:02d}_{date.day:02d}_{date.year:04d}.json.gz"


def movie_lines(universe: Universe, day: int) -> Iterator[bytes]:
    for movie_id in universe.candidates(day):
        if universe.alive(movie_id, day):
            yield orjson.dumps(
                {
                    "adult": universe.adult(movie_id),
                    "id": movie_id,
                    "original_title": universe.title(movie_id),
                    "popularity": universe.popularity(movie_id),
                    "video": False,
                }
            )


def collection_lines(universe: Universe) -> Iterator[bytes]:
    for collection_id in universe.collections():
        yield orjson.dumps({"id": collection_id, "name": universe.collection_name(collection_id)})


def universe_files(universe: Universe) -> dict[str, Lines]:
    """The exports of a ``Universe``: its movies, its collections."""
    return {
        "movie": lambda day: movie_lines(universe, day),
        "collection": lambda _day: collection_lines(universe),
    }


def add_file_host(app: web.Application, standin: Host, *groups: Mapping[str, Lines]) -> None:
    """Serve the exports of each kind of ``groups`` (``movie_ids_...``, ``tv_series_ids_...``);
    the last files made of a group are kept."""
    files = {kind: lines for group in groups for kind, lines in group.items()}
    # Each kind's kept files, one dict per group.
    published: dict[str, dict[str, bytes]] = {}
    for group in groups:
        shared: dict[str, bytes] = {}
        published |= dict.fromkeys(group, shared)

    async def export(request: web.Request) -> web.StreamResponse:
        standin.counters.requests["exports"] += 1
        m = _NAME.fullmatch(request.match_info["name"])
        day = None if m is None else _day_of(m)
        lines = None
        if m is not None and m.group(1) in files and day is not None and 0 <= day <= standin.day:
            lines = files[m.group(1)](day)
        if m is None or lines is None:
            # TMDB's file host answers a missing file with a bare 404 (an S3-style XML body).
            return web.Response(status=404, text="<Error><Code>NoSuchKey</Code></Error>")
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        name, kept = m.group(0), published[m.group(1)]
        if name in kept:
            # Published files are static, as on TMDB's host: made once, then served as they are.
            await response.write(kept[name])
            await response.write_eof()
            return response
        made = await _stream(response, lines)
        # The compressed file only (some 25 MB at 1.1M movies), never the bodies; the last two.
        kept[name] = made
        while len(kept) > _PUBLISHED_KEPT:
            del kept[next(iter(kept))]
        return response

    app.router.add_get(EXPORTS_PATH + "{name}", export)


def add_routes(app: web.Application, standin: Host, universe: Universe) -> None:
    """Route the API's movie, changes and collection answers to ``universe``."""

    async def movie(request: web.Request) -> web.Response:
        movie_id = int(request.match_info["id"])
        if not universe.alive(movie_id, standin.day):
            return json_response(ERR_NOT_FOUND, 404)
        standin.counters.movie_ok[movie_id] += 1
        append = set(request.query.get("append_to_response", "").split(","))
        return json_response(universe.detail(movie_id, standin.day, append))

    async def changes(request: web.Request) -> web.Response:
        q = request.query
        standin.counters.changes_queries[(q.get("start_date", ""), q.get("end_date", ""))] += 1
        page = page_of(q)
        if page is None:
            return json_response(ERR_PAGE, 400)
        days = changes_days(q, standin.catalog.date)
        if isinstance(days, dict):
            return json_response(days, 422)
        ids = sorted(
            {i for d in range(max(1, days[0]), min(standin.day, days[1]) + 1) for i in universe.changed(d)}
        )
        chunk = ids[(page - 1) * CHANGES_PAGE_SIZE : page * CHANGES_PAGE_SIZE]
        return json_response(
            {
                "results": [{"id": i, "adult": universe.adult(i)} for i in chunk],
                "page": page,
                "total_pages": max(1, math.ceil(len(ids) / CHANGES_PAGE_SIZE)),
                "total_results": len(ids),
            }
        )

    async def collection(request: web.Request) -> web.Response:
        body = universe.collection(int(request.match_info["id"]), standin.day)
        return json_response(ERR_NOT_FOUND, 404) if body is None else json_response(body)

    app.router.add_get("/3/movie/changes", changes)
    app.router.add_get(r"/3/movie/{id:\d+}", movie)
    app.router.add_get(r"/3/collection/{id:\d+}", collection)


def _day_of(m: re.Match[str]) -> int | None:
    """The stand-in's day a file name's date is, or None for no date."""
    try:
        return (dt.date(int(m.group(4)), int(m.group(2)), int(m.group(3))) - DAY0).days
    except ValueError:
        return None


async def _stream(response: web.StreamResponse, lines: Iterator[bytes]) -> bytes:
    """Send ``lines`` gzipped as they are made; return the whole compressed file."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    made: list[bytes] = []
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= _LINES_PER_WRITE:
            made.append(packer.compress(b"\n".join(chunk) + b"\n"))
            await response.write(made[-1])
            chunk.clear()
    made.append(packer.compress(b"\n".join(chunk) + b"\n" if chunk else b"") + packer.flush())
    await response.write(made[-1])
    await response.write_eof()
    return b"".join(made)
