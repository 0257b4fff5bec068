"""The stand-in's answers held against TMDB's own OpenAPI 3.1 description.

The description (tests/tmdb_openapi/, cut from a public copy kept in sync with TMDB's
docs; see its README) declares every field of each answer but marks none required and
allows any other. Read that loosely, any JSON object would pass; so each object is held to
it strictly here: every field it describes must be there, with the described type, and no
other field may be. Where the description is stricter than the real API, ``REAL_API``
loosens it, saying why; the answers come over HTTP from the running stand-in.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from ingest.standin import DAY0, STANDIN_TOKEN, Catalog, DailyChange, Standin, TvCatalog
from ingest.standin.tv_bodies import SUB_RESOURCES

DESCRIPTION = Path(__file__).parent / "tmdb_openapi" / "tmdb-api.subset.json"
AUTH = {"Authorization": f"Bearer {STANDIN_TOKEN}"}

# Where the real API sends what the description does not allow, by operation and the path
# of the field ("[]" for an array's items, "{}" for a map's values): "nullable" (the real
# API sends null), "optional" (the real API does not send it), "number" (the description
# says integer where the real API sends decimals), "map" (an object keyed by anything, each
# value holding the fields of the described ones: TMDB's watch providers by country), or
# "extra:TYPE" (the real API sends a field the description does not name).
REAL_API: dict[str, dict[str, str]] = {
    "movie-details": {
        # null for a movie that belongs to no collection (most of them).
        "belongs_to_collection": "nullable",
        # Companies without a logo have a null logo_path, often.
        "production_companies[].logo_path": "nullable",
    },
    "collection-details": {
        # The description names a part's title fields as a TV show's (name, original_name);
        # for a movie the real API sends title and original_title, as discover does.
        "parts[].name": "optional",
        "parts[].original_name": "optional",
        "parts[].title": "extra:string",
        "parts[].original_title": "extra:string",
    },
    "discover-tv": {
        # Ratings are decimals (7.9); the description's example had whole numbers only.
        "results[].vote_average": "number",
        # TV results carry adult, as movie results do.
        "results[].adult": "extra:boolean",
    },
    "tv-series-details": {
        # null before a series' first episode airs.
        "last_episode_to_air": "nullable",
        "seasons[].vote_average": "number",
        "production_companies[].logo_path": "nullable",
        "created_by[].profile_path": "nullable",
    },
    # Ids a series does not have on the other sites are null.
    "tv-series-external-ids": {
        name: "nullable"
        for name in (
            "imdb_id",
            "freebase_mid",
            "freebase_id",
            "tvdb_id",
            "tvrage_id",
            "wikidata_id",
            "facebook_id",
            "instagram_id",
            "twitter_id",
        )
    },
    # People without a picture have a null profile_path.
    "tv-series-credits": {"cast[].profile_path": "nullable", "crew[].profile_path": "nullable"},
    "tv-series-aggregate-credits": {"cast[].profile_path": "nullable", "crew[].profile_path": "nullable"},
    # The description lists the countries of its example; the real API, those where the
    # series can be watched, each with only the ways it has there.
    "tv-series-watch-providers": {
        "results": "map",
        **{f"results{{}}.{way}": "optional" for way in ("flatrate", "buy", "rent", "free", "ads")},
    },
}


def strict(schema: dict[str, Any], loosen: dict[str, str], at: str = "") -> dict[str, Any]:
    """``schema`` with every described field required and no other allowed, but for
    ``loosen``'s paths (see ``REAL_API``)."""
    schema = copy.deepcopy(schema)
    if schema.get("type") == "array" and "items" in schema:
        schema["items"] = strict(schema["items"], loosen, at + "[]")
    if schema.get("type") == "object" and "properties" in schema:
        props: dict[str, Any] = schema["properties"]
        for name in list(props):
            path = f"{at}.{name}" if at else name
            props[name] = strict(props[name], loosen, path)
            if loosen.get(path) == "number":
                props[name] = {"type": "number"}
            if loosen.get(path) == "map":
                props[name] = as_map(props[name], loosen, path)
            if loosen.get(path) == "nullable":
                props[name] = {"anyOf": [props[name], {"type": "null"}]}
        for path, how in loosen.items():
            parent, _, name = path.rpartition(".")
            if parent == at and how.startswith("extra:"):
                props[name] = {"type": how.removeprefix("extra:")}
        optional = {p for p, how in loosen.items() if how == "optional"}
        schema["required"] = [n for n in props if (f"{at}.{n}" if at else n) not in optional]
        schema["additionalProperties"] = False
    return schema


def as_map(schema: dict[str, Any], loosen: dict[str, str], at: str) -> dict[str, Any]:
    """An object with any keys, each value an object of the fields that the described
    values have between them (held strictly, but for ``loosen``'s ``at{}`` paths)."""
    fields: dict[str, Any] = {}
    for value in schema["properties"].values():
        fields |= value["properties"]
    entry = strict({"type": "object", "properties": fields}, loosen, at + "{}")
    return {"type": "object", "additionalProperties": entry}


@functools.cache
def validator(operation: str) -> Draft202012Validator:
    description = json.loads(DESCRIPTION.read_text())
    for item in description["paths"].values():
        op = item["get"]
        if op["operationId"] == operation:
            schema = op["responses"]["200"]["content"]["application/json"]["schema"]
            return Draft202012Validator(strict(schema, REAL_API.get(operation, {})))
    raise KeyError(operation)


def errors(operation: str, body: Any) -> list[str]:
    found = validator(operation).iter_errors(body)
    return sorted(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({10752: 120, 80: 80}, seed=3, daily=DailyChange(changed=0.1))


@pytest.fixture(scope="module")
def tv(catalog: Catalog) -> TvCatalog:
    return TvCatalog.synthetic(
        {10768: 60, 80: 40},
        seed=3,
        movie_ids=catalog.movies,
        daily=DailyChange(changed=0.1),
        no_date_share=0.1,
    )


@pytest.fixture
async def standin(catalog: Catalog, tv: TvCatalog) -> AsyncIterator[Standin]:
    running = Standin(catalog, tv=tv)
    async with running.serve():
        yield running


async def _get(standin: Standin, path: str, **params: Any) -> Any:
    async with (
        aiohttp.ClientSession(headers=AUTH) as session,
        session.get(standin.url + path, params=params) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_discover_pages_match_the_description(standin: Standin) -> None:
    for genre in ("10752", "80", "35"):
        body = await _get(standin, "/3/discover/movie", with_genres=genre, page=1)
        assert body["results"], genre
        assert errors("discover-movie", body) == []


async def test_details_with_keywords_match_the_description(standin: Standin, catalog: Catalog) -> None:
    in_collection = next(m.id for m in catalog.movies.values() if m.collection_id)
    alone = next(m.id for m in catalog.movies.values() if not m.collection_id)
    for movie_id in (in_collection, alone, *sorted(catalog.movies)[:20]):
        body = await _get(standin, f"/3/movie/{movie_id}", append_to_response="keywords")
        # The appended part is the keywords route's answer without its id.
        keywords = body.pop("keywords")
        assert errors("movie-details", body) == []
        assert errors("movie-keywords", {"id": movie_id, **keywords}) == []
        assert errors("movie-keywords", await _get(standin, f"/3/movie/{movie_id}/keywords")) == []


async def test_collections_match_the_description(standin: Standin, catalog: Catalog) -> None:
    for collection_id in sorted(catalog.collections)[:20]:
        body = await _get(standin, f"/3/collection/{collection_id}")
        assert errors("collection-details", body) == []


async def test_the_changes_feed_matches_the_description(standin: Standin) -> None:
    standin.day = 2
    end = (DAY0 + dt.timedelta(days=2)).isoformat()
    body = await _get(standin, "/3/movie/changes", start_date=DAY0.isoformat(), end_date=end)
    assert body["results"]
    assert errors("changes-movie-list", body) == []


def test_the_strict_reading_fails_what_the_description_does_not_describe(catalog: Catalog) -> None:
    """The check can fail: a missing field, a wrong type, an undescribed field."""
    collection = catalog.collection(next(iter(catalog.collections)))
    assert errors("collection-details", collection) == []
    without = {k: v for k, v in collection.items() if k != "original_name"}
    assert errors("collection-details", without) == ["/: 'original_name' is a required property"]
    assert errors("collection-details", collection | {"id": "8001"}) == [
        "/id: '8001' is not of type 'integer'"
    ]
    assert errors("collection-details", collection | {"tagline": ""}) != []
    movie = catalog.detail(next(iter(catalog.movies)))
    assert errors("movie-details", movie | {"belongs_to_collection": None}) == []
    assert errors("movie-details", movie | {"title": None}) != []


# The sub-resources' operations, by the name ``append_to_response`` gives them.
SUB_OPERATIONS = {
    "keywords": "tv-series-keywords",
    "external_ids": "tv-series-external-ids",
    "credits": "tv-series-credits",
    "aggregate_credits": "tv-series-aggregate-credits",
    "content_ratings": "tv-series-content-ratings",
    "watch/providers": "tv-series-watch-providers",
}


async def test_tv_genres_and_discover_pages_match_the_description(standin: Standin) -> None:
    assert errors("genre-tv-list", await _get(standin, "/3/genre/tv/list")) == []
    for genre in ("10768", "80", "18"):
        body = await _get(standin, "/3/discover/tv", with_genres=genre, page=1)
        assert body["results"], genre
        assert errors("discover-tv", body) == []


async def test_tv_details_and_every_sub_resource_match_the_description(
    standin: Standin, tv: TvCatalog
) -> None:
    assert set(SUB_OPERATIONS) == set(SUB_RESOURCES)
    undated = [s.id for s in tv.series.values() if not s.first_air_date]
    assert undated and tv.adult_ids
    for series_id in (*sorted(tv.adult_ids)[:1], *undated[:1], *sorted(tv.series)[:10]):
        body = await _get(standin, f"/3/tv/{series_id}", append_to_response=",".join(SUB_OPERATIONS))
        for name, operation in SUB_OPERATIONS.items():
            # Each appended part is its route's answer without the id.
            part = body.pop(name)
            assert errors(operation, {"id": series_id, **part}) == [], name
            alone = await _get(standin, f"/3/tv/{series_id}/{name}")
            assert alone == {"id": series_id, **part}
            assert errors(operation, alone) == [], name
        assert errors("tv-series-details", body) == []


async def test_the_tv_changes_feed_matches_the_description(standin: Standin) -> None:
    standin.day = 2
    end = (DAY0 + dt.timedelta(days=2)).isoformat()
    body = await _get(standin, "/3/tv/changes", start_date=DAY0.isoformat(), end_date=end)
    assert body["results"]
    assert errors("changes-tv-list", body) == []


def test_the_tv_descriptions_hold_the_differences_from_movies(tv: TvCatalog) -> None:
    """TV keywords are under ``results`` (movies say ``keywords``); TV details carry no
    ``imdb_id``; a decimal is no integer where nothing loosens the description."""
    series_id = next(iter(tv.series))
    keywords = tv.sub_resource(series_id, "keywords")
    assert errors("tv-series-keywords", keywords) == []
    assert errors("tv-series-keywords", {"id": series_id, "keywords": keywords["results"]}) != []
    detail = tv.detail(series_id)
    assert errors("tv-series-details", detail | {"imdb_id": "tt0000001"}) != []
    assert errors("tv-series-details", detail | {"number_of_seasons": 1.5}) != []
    assert errors("discover-tv", {"page": 1, "results": [tv.summary(series_id)], "total_pages": 1}) != []
