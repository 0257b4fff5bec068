"""The TMDB stand-in's TV side over HTTP: genres, discover past the cap, details with their
sub-resources, the changes feed, the daily TV exports, ids shared with movies, the IMDb
join with the sample ``data/series.csv``, and one rate budget for movies and series."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ingest.standin import (
    DAY0,
    STANDIN_TOKEN,
    TV_GENRE_NAMES,
    Catalog,
    DailyChange,
    Standin,
    TvCatalog,
    standin_process,
)
from ingest.standin import __main__ as standin_main

CRIME, WAR_POLITICS = 80, 10768
AUTH = {"Authorization": f"Bearer {STANDIN_TOKEN}"}
# Big shares, so a few days on a small catalogue move every kind of change.
DAILY = DailyChange(changed=0.1, added=0.05, removed=0.02, regenred=0.5)
SERIES_CSV = Path(__file__).resolve().parents[1] / "data" / "series.csv"


def _day(n: int) -> str:
    return (DAY0 + dt.timedelta(days=n)).isoformat()


def _export(kind: str, n: int) -> str:
    date = DAY0 + dt.timedelta(days=n)
    return f"/p/exports/{kind}_ids_{date:%m_%d_%Y}.json.gz"


@pytest.fixture(scope="module")
def movies() -> Catalog:
    return Catalog.synthetic({CRIME: 60}, seed=5, daily=DAILY)


@pytest.fixture(scope="module")
def tv0(movies: Catalog) -> TvCatalog:
    return TvCatalog.synthetic(
        {CRIME: 60, WAR_POLITICS: 40}, seed=5, movie_ids=movies.movies, daily=DAILY, no_date_share=0.05
    )


@pytest.fixture
async def standin(movies: Catalog, tv0: TvCatalog) -> AsyncIterator[Standin]:
    running = Standin(movies, tv=tv0)
    async with running.serve():
        yield running


async def _get(url: str, headers: dict[str, str] | None = None, **params: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers=AUTH if headers is None else headers) as session,
        session.get(url, params=params) as resp,
    ):
        body = await resp.read()
        return resp.status, orjson.loads(body) if resp.content_type == "application/json" else body


async def _all_ids(url: str, **params: Any) -> list[int]:
    ids: list[int] = []
    page, pages = 1, 1
    while page <= pages:
        status, body = await _get(url, **params, page=page)
        assert status == 200, body
        ids += [r["id"] for r in body["results"]]
        pages = body["total_pages"]
        page += 1
    return ids


async def test_tv_genres_are_tmdbs_tv_list(standin: Standin) -> None:
    status, body = await _get(standin.url + "/3/genre/tv/list")
    assert status == 200
    assert {g["id"]: g["name"] for g in body["genres"]} == {
        10759: "Action & Adventure", 16: "Animation", 35: "Comedy", 80: "Crime",
        99: "Documentary", 18: "Drama", 10751: "Family", 10762: "Kids", 9648: "Mystery",
        10763: "News", 10764: "Reality", 10765: "Sci-Fi & Fantasy", 10766: "Soap",
        10767: "Talk", 10768: "War & Politics", 37: "Western",
    }  # fmt: skip


async def test_discover_tv_lists_a_genre_and_leaves_out_adult_and_undated_series(
    standin: Standin, tv0: TvCatalog
) -> None:
    url = standin.url + "/3/discover/tv"
    listed = await _all_ids(url, with_genres=WAR_POLITICS, include_null_first_air_dates="true")
    assert len(listed) == len(set(listed)) and set(listed) == tv0.genre_ids(WAR_POLITICS)
    assert len(listed) == 40
    popularity = [tv0.series[i].popularity for i in listed]
    assert popularity == sorted(popularity, reverse=True)
    # TMDB's defaults: no adult series, and none without a first air date.
    dated = await _all_ids(url, with_genres=CRIME)
    assert set(dated) == {i for i in tv0.genre_ids(CRIME) if tv0.series[i].first_air_date}
    assert set(dated) < tv0.genre_ids(CRIME)
    adult = tv0.series[min(tv0.adult_ids)]
    with_adult = await _all_ids(url, with_genres=adult.genre_ids[0], include_adult="true")
    assert adult.id in with_adult and adult.id not in await _all_ids(url, with_genres=adult.genre_ids[0])
    # Every genre of the list has series; "|" is any of, "," all of.
    for genre in TV_GENRE_NAMES:
        assert await _all_ids(url, with_genres=genre, include_null_first_air_dates="true"), genre
    either = await _all_ids(url, with_genres=f"{CRIME}|{WAR_POLITICS}", include_null_first_air_dates="true")
    assert set(either) == tv0.genre_ids(CRIME) | tv0.genre_ids(WAR_POLITICS)
    both = await _all_ids(url, with_genres=f"{CRIME},{WAR_POLITICS}", include_null_first_air_dates="true")
    assert set(both) == tv0.genre_ids(CRIME) & tv0.genre_ids(WAR_POLITICS) != set()


async def test_discover_tv_stops_at_page_500_and_date_windows_reach_past_it() -> None:
    """A War & Politics genre past the 10,000 cap: pages 1-500 of 20, then 400
    status_code 22; first_air_date windows under the cap list the rest."""
    big = TvCatalog.synthetic({WAR_POLITICS: 10_060}, seed=2, no_date_share=0.0)
    async with Standin(Catalog.synthetic({CRIME: 10}, seed=2), tv=big).serve() as root:
        url = root + "/3/discover/tv"
        status, last = await _get(url, with_genres=WAR_POLITICS, page=500)
        assert status == 200 and len(last["results"]) == 20
        assert (last["total_results"], last["total_pages"]) == (10_060, 503)
        for page in (501, 0):
            status, body = await _get(url, with_genres=WAR_POLITICS, page=page)
            assert (status, body["status_code"]) == (400, 22)
        found: list[int] = []
        for gte, lte in (
            ("1900-01-01", "1999-12-31"),
            ("2000-01-01", "2012-12-31"),
            ("2013-01-01", "2030-12-31"),
        ):
            window: dict[str, Any] = {"first_air_date.gte": gte, "first_air_date.lte": lte}
            _, first = await _get(url, with_genres=WAR_POLITICS, sort_by="first_air_date.asc", **window)
            assert first["total_results"] <= 10_000, window
            dates = [r["first_air_date"] for r in first["results"]]
            assert dates == sorted(dates) and all(gte <= d <= lte for d in dates)
            found += await _all_ids(url, with_genres=WAR_POLITICS, **window)
        assert len(found) == len(set(found)) == 10_060
        assert set(found) == big.genre_ids(WAR_POLITICS)


async def test_details_append_sub_resources_up_to_twenty(standin: Standin, tv0: TvCatalog) -> None:
    series_id = min(tv0.genre_ids(WAR_POLITICS))
    url = f"{standin.url}/3/tv/{series_id}"
    status, body = await _get(url, append_to_response="keywords,external_ids,credits,content_ratings,images")
    assert status == 200 and body["id"] == series_id and "imdb_id" not in body
    # Keywords under "results" (movies say "keywords"); the IMDb id in external_ids.
    assert set(body["keywords"]) == {"results"} and "id" not in body["external_ids"]
    assert body["external_ids"]["imdb_id"] is None or body["external_ids"]["imdb_id"].startswith("tt")
    assert set(body["credits"]) == {"cast", "crew"} and set(body["content_ratings"]) == {"results"}
    # A name the stand-in does not serve is left out, as TMDB leaves out names it does not know.
    assert "images" not in body and "aggregate_credits" not in body
    assert WAR_POLITICS in [g["id"] for g in body["genres"]]
    _, plain = await _get(url)
    assert plain == {
        k: v for k, v in body.items() if k not in ("keywords", "external_ids", "credits", "content_ratings")
    }
    status, keywords = await _get(url + "/keywords")
    assert (status, keywords) == (200, {"id": series_id, "results": body["keywords"]["results"]})
    status, external = await _get(url + "/external_ids")
    assert (status, external) == (200, {"id": series_id, **body["external_ids"]})
    twenty = ",".join(["keywords", "external_ids"] * 10)
    assert (await _get(url, append_to_response=twenty))[0] == 200
    status, refused = await _get(url, append_to_response=twenty + ",credits")
    assert (status, refused["status_code"]) == (400, 27)
    for path in ("/3/tv/999999999", "/3/tv/999999999/keywords", "/3/tv/999999999/external_ids"):
        status, missing = await _get(standin.url + path)
        assert (status, missing) == (
            404,
            {
                "success": False,
                "status_code": 34,
                "status_message": "The resource you requested could not be found.",
            },
        )


async def test_a_tv_id_can_also_be_a_movie_id(standin: Standin, movies: Catalog, tv0: TvCatalog) -> None:
    shared = sorted(set(movies.movies) & set(tv0.series))
    assert len(shared) >= 3
    for item in shared[:3]:
        movie_status, movie = await _get(f"{standin.url}/3/movie/{item}")
        tv_status, series = await _get(f"{standin.url}/3/tv/{item}")
        assert movie_status == tv_status == 200 and movie["id"] == series["id"] == item
        assert movie["title"] == movies.movies[item].title and series["name"] == tv0.series[item].name
        assert "title" not in series and "name" not in movie


async def test_the_tv_changes_feed_follows_the_clock(standin: Standin, tv0: TvCatalog) -> None:
    standin.day = 3
    tv3 = tv0.at_day(3)
    assert standin.tv == tv3
    url = standin.url + "/3/tv/changes"
    status, body = await _get(url, start_date=_day(1), end_date=_day(3))
    assert status == 200 and set(body) == {"results", "page", "total_pages", "total_results"}
    assert [r["id"] for r in body["results"]] == tv3.changed_between(1, 3) != []
    assert all(set(r) == {"id", "adult"} for r in body["results"])
    # Without dates, a range from yesterday to today, as the movie feed's.
    _, today = await _get(url)
    assert [r["id"] for r in today["results"]] == tv3.changed_between(2, 3)
    for start, end in ((_day(0), _day(15)), (_day(3), _day(1))):
        status, refused = await _get(url, start_date=start, end_date=end)
        assert (status, refused["status_code"]) == (422, 20)
    status, beyond = await _get(url, start_date=_day(1), end_date=_day(3), page=501)
    assert (status, beyond["status_code"]) == (400, 22)


def test_each_day_changes_adds_removes_and_moves_series_between_genres(
    movies: Catalog, tv0: TvCatalog
) -> None:
    day3 = tv0.at_day(3)
    sizes = {CRIME: 60, WAR_POLITICS: 40}
    again = TvCatalog.synthetic(sizes, seed=5, movie_ids=movies.movies, daily=DAILY, no_date_share=0.05)
    assert again == tv0 and again.at_day(3) == day3 == tv0.at_day(1).at_day(3)
    other = TvCatalog.synthetic(sizes, seed=6, movie_ids=movies.movies, daily=DAILY, no_date_share=0.05)
    assert other.at_day(1).changed_on != tv0.at_day(1).changed_on
    removed = tv0.series.keys() - day3.series.keys()
    added = day3.series.keys() - tv0.series.keys()
    changed = {i for i in tv0.series.keys() & day3.series.keys() if day3.series[i].revision}
    assert removed and added and changed
    assert removed | added | changed == set(day3.changed_between(1, 3))
    moved = {i for i in changed if set(day3.series[i].genre_ids) != set(tv0.series[i].genre_ids)}
    assert moved and {g for i in moved for g in day3.series[i].genre_ids} & {CRIME, WAR_POLITICS}
    # A changed series' body differs; an added one has a fresh IMDb id.
    some = min(changed)
    assert day3.detail(some)["overview"] != tv0.detail(some)["overview"]
    assert all((day3.series[i].imdb or 0) > tv0.last_imdb for i in added)


async def test_the_daily_tv_exports(standin: Standin, tv0: TvCatalog) -> None:
    """``tv_series_ids_MM_DD_YYYY.json.gz``: JSON Lines of ``{id, original_name,
    popularity}`` for every day up to today, without the adult series, which are in
    ``adult_tv_series_ids``; no credentials, as TMDB's file host."""
    standin.day = 2
    tv2 = tv0.at_day(2)
    for day, tv in ((0, tv0), (2, tv2)):
        status, data = await _get(standin.url + _export("tv_series", day), headers={})
        assert status == 200
        lines = [orjson.loads(line) for line in gzip.decompress(data).splitlines()]
        assert all(set(line) == {"id", "original_name", "popularity"} for line in lines)
        assert [line["id"] for line in lines] == sorted(tv.series.keys() - tv.adult_ids)
        assert all(line["original_name"] == tv.series[line["id"]].name for line in lines)
        _, adult = await _get(standin.url + _export("adult_tv_series", day), headers={})
        assert (
            {orjson.loads(line)["id"] for line in gzip.decompress(adult).splitlines()}
            == tv.adult_ids
            != set()
        )
    status, _ = await _get(standin.url + _export("tv_series", 3), headers={})
    assert status == 404
    assert standin.counters.requests["exports"] == 5


async def test_imdb_ids_join_the_sample_series_csv(standin: Standin, tv0: TvCatalog) -> None:
    with SERIES_CSV.open(encoding="utf-8", newline="") as fh:
        sample = {row["id"] for row in csv.DictReader(fh, delimiter="|")}
    found: dict[int, str | None] = {}
    for series_id in sorted(tv0.series):
        status, body = await _get(f"{standin.url}/3/tv/{series_id}", append_to_response="external_ids")
        assert status == 200
        found[series_id] = body["external_ids"]["imdb_id"]
    imdb = [i for i in found.values() if i is not None]
    assert len(imdb) == len(set(imdb)), "one series per IMDb id"
    joined = set(imdb) & sample
    assert len(joined) >= 0.7 * len(found) and len(imdb) < len(found)


async def test_movies_and_series_share_one_rate_budget(movies: Catalog, tv0: TvCatalog) -> None:
    """Five requests a (frozen) second, whichever API they ask."""
    standin = Standin(movies, tv=tv0, rate_limit=5, clock=lambda: 0.0)
    movie_id, series_id = min(movies.movies), min(tv0.series)
    paths = [
        f"/3/movie/{movie_id}",
        f"/3/tv/{series_id}",
        "/3/discover/tv",
        "/3/tv/changes",
        "/3/genre/tv/list",
    ]
    async with standin.serve() as root:
        statuses = [
            (await _get(root + path))[0] for path in [*paths, f"/3/tv/{series_id}", f"/3/movie/{movie_id}"]
        ]
    assert statuses == [200, 200, 200, 200, 200, 429, 429]
    assert standin.counters.throttled == 2
    assert standin.counters.requests["tv"] == 2 and standin.counters.requests["discover_tv"] == 1


def test_the_command_serves_tv_sizes_named_in_its_help() -> None:
    helped = standin_main.build_parser().format_help()
    assert all(option in helped for option in ("--tv-crime", "--tv-war-politics", "--tv-genre", "--no-tv"))
    args = ("--crime", "20", "--tv-crime", "30", "--tv-war-politics", "25", "--tv-genre", "99=5")
    expected = TvCatalog.synthetic({CRIME: 30, WAR_POLITICS: 25, 99: 5}, seed=1)
    with standin_process(*args) as running:
        assert running.ready["series"] == len(expected.series)
        query = f"with_genres={WAR_POLITICS}&include_null_first_air_dates=true"
        request = urllib.request.Request(f"{running.url}/3/discover/tv?{query}", headers=AUTH)
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert orjson.loads(resp.read())["total_results"] == 25
        assert running.stats()["requests"] == {"discover_tv": 1}


def test_with_a_whole_catalogue_tv_ids_meet_its_movie_ids() -> None:
    """``--catalogue``: ``/movie/{id}`` answers from the whole catalogue; some series
    share an id with one of its movies."""

    def status_of(url: str) -> int:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=AUTH), timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as refused:
            return refused.code

    with standin_process("--catalogue", "400", "--tv-crime", "40") as running:
        export = _export("tv_series", 0)
        with urllib.request.urlopen(running.url + export, timeout=10) as resp:
            series = [orjson.loads(line)["id"] for line in gzip.decompress(resp.read()).splitlines()]
        assert len(series) == 40
        both = [i for i in series if status_of(f"{running.url}/3/movie/{i}") == 200]
        assert len(both) >= 3 and all(status_of(f"{running.url}/3/tv/{i}") == 200 for i in both)
