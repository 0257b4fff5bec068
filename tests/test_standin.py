"""The TMDB stand-in's clock and its changes feed, over HTTP, and its command's ready line."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ingest.standin import DAY0, STANDIN_TOKEN, Catalog, DailyChange, Standin, standin_process
from ingest.standin import __main__ as standin_main
from ingest.standin.bodies import GENRE_NAMES

WAR = 10752
CRIME = 80
# Big shares, so a few days on a small catalogue move every kind of change.
DAILY = DailyChange(changed=0.1, added=0.05, removed=0.02, regenred=0.5)
AUTH = {"Authorization": f"Bearer {STANDIN_TOKEN}"}


def _day(n: int) -> str:
    return (DAY0 + dt.timedelta(days=n)).isoformat()


@pytest.fixture
def day0() -> Catalog:
    return Catalog.synthetic({WAR: 200, CRIME: 100}, seed=7, daily=DAILY)


@pytest.fixture
async def standin(day0: Catalog) -> AsyncIterator[Standin]:
    running = Standin(day0)
    async with running.serve():
        yield running


async def _get(url: str, **params: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession(headers=AUTH) as session, session.get(url, params=params) as resp:
        return resp.status, await resp.json()


async def _all_pages(url: str, **params: Any) -> list[dict[str, Any]]:
    """Every page's ``results``, following ``total_pages``."""
    results: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        status, body = await _get(url, **params, page=page)
        assert status == 200, body
        assert set(body) == {"results", "page", "total_pages", "total_results"}
        results += body["results"]
        pages = body["total_pages"]
        page += 1
    return results


async def _changes(standin: Standin, start: int, end: int) -> set[int]:
    found = await _all_pages(standin.url + "/3/movie/changes", start_date=_day(start), end_date=_day(end))
    assert all(r["adult"] is False and set(r) == {"id", "adult"} for r in found)
    return {r["id"] for r in found}


async def _discover_ids(standin: Standin, genre: int) -> set[int]:
    return {r["id"] for r in await _all_pages(standin.url + "/3/discover/movie", with_genres=genre)}


def test_the_clock_is_deterministic_from_the_seed(day0: Catalog) -> None:
    again = Catalog.synthetic({WAR: 200, CRIME: 100}, seed=7, daily=DAILY)
    assert day0.at_day(3) == again.at_day(3)
    assert day0.at_day(3) == day0.at_day(1).at_day(3)
    other = Catalog.synthetic({WAR: 200, CRIME: 100}, seed=8, daily=DAILY)
    assert other.at_day(1).changed_on != day0.at_day(1).changed_on


def test_each_day_changes_adds_and_removes_movies(day0: Catalog) -> None:
    day1 = day0.at_day(1)
    changed = {i for i in day0.movies.keys() & day1.movies.keys() if day0.movies[i] != day1.movies[i]}
    added = day1.movies.keys() - day0.movies.keys()
    removed = day0.movies.keys() - day1.movies.keys()
    n = len(day0.movies)
    assert (len(changed), len(added), len(removed)) == (round(n * 0.1), round(n * 0.05), round(n * 0.02))
    assert day1.changed_on[1] == changed | added | removed
    assert any(day0.movies[i].genre_ids != day1.movies[i].genre_ids for i in changed)
    assert day1.date == DAY0 + dt.timedelta(days=1)
    with pytest.raises(ValueError, match="behind"):
        day1.at_day(0)


async def test_a_changed_movie_is_in_the_feed_and_its_body_differs(standin: Standin, day0: Catalog) -> None:
    before = {i: (await _get(f"{standin.url}/3/movie/{i}"))[1] for i in sorted(day0.movies)[:60]}
    standin.day = 2
    feed = await _changes(standin, 1, 2)
    assert feed == set(standin.catalog.changed_between(1, 2))
    changed = [i for i in before if i in standin.catalog.movies and standin.catalog.movies[i].revision]
    assert changed, "no movie among the first 60 changed in two days"
    for movie_id in changed:
        assert movie_id in feed
        status, body = await _get(f"{standin.url}/3/movie/{movie_id}")
        assert status == 200 and body != before[movie_id]
    unchanged = [i for i in before if i not in feed]
    assert unchanged
    for movie_id in unchanged:
        assert (await _get(f"{standin.url}/3/movie/{movie_id}"))[1] == before[movie_id]
    # A day before anything changed lists nothing.
    assert await _changes(standin, 0, 0) == set()


async def test_a_removed_movie_404s_and_an_added_one_is_discovered(standin: Standin, day0: Catalog) -> None:
    standin.day = 1
    removed = day0.movies.keys() - standin.catalog.movies.keys()
    added = standin.catalog.movies.keys() - day0.movies.keys()
    assert removed and added
    for movie_id in removed:
        status, body = await _get(f"{standin.url}/3/movie/{movie_id}")
        assert (status, body["status_code"]) == (404, 34)
    discovered = await _discover_ids(standin, WAR) | await _discover_ids(standin, CRIME)
    assert added <= discovered and not removed & discovered
    assert removed | added <= await _changes(standin, 1, 1)


async def test_ranges_over_14_days_and_pages_over_500_are_refused(standin: Standin) -> None:
    status, body = await _get(standin.url + "/3/movie/changes", start_date=_day(0), end_date=_day(15))
    assert status == 422
    assert body == {
        "success": False,
        "status_code": 20,
        "status_message": "Invalid date range: Should be a range no longer than 14 days.",
    }
    status, _ = await _get(standin.url + "/3/movie/changes", start_date=_day(0), end_date=_day(14))
    assert status == 200
    status, body = await _get(standin.url + "/3/movie/changes", page=501)
    assert (status, body["status_code"]) == (400, 22)


async def test_the_changes_feed_pages_by_100(day0: Catalog) -> None:
    big = Catalog.synthetic({WAR: 1500}, seed=3, daily=DailyChange(changed=0.1))
    standin = Standin(big, day=0)
    async with standin.serve():
        standin.day = 1
        status, body = await _get(standin.url + "/3/movie/changes", start_date=_day(1), end_date=_day(1))
    assert status == 200
    assert body["total_results"] == 150 + 15 + 3 and body["total_pages"] == 2
    assert len(body["results"]) == 100


async def test_keywords_route_and_active_window(standin: Standin, day0: Catalog) -> None:
    movie_id = min(day0.movies)
    status, body = await _get(f"{standin.url}/3/movie/{movie_id}/keywords")
    _, detail = await _get(f"{standin.url}/3/movie/{movie_id}", append_to_response="keywords")
    assert status == 200 and body == {"id": movie_id, "keywords": detail["keywords"]["keywords"]}
    _, stats = await _get(standin.url + "/__stats")
    assert stats["requests"]["movie"] == 2 and stats["active_s"] is not None and stats["day"] == 0


def test_the_command_prints_one_ready_line_with_its_token() -> None:
    with standin_process("--war", "30", "--day", "2", stderr=subprocess.PIPE) as standin:
        assert standin.ready["day"] == 2 and standin.ready["date"] == _day(2)
        # The token is made up, not a secret: a user pastes it from either ready line.
        assert standin.ready["token"] == standin.token == STANDIN_TOKEN
        assert standin.set_day(3) == {"day": 3, "date": _day(3)}
        assert standin.stats()["day"] == 3
        standin.proc.terminate()
        out, err = standin.proc.communicate(timeout=10)
    assert "synthetic" in err and f"token {STANDIN_TOKEN}" in err
    assert json.loads(out.strip().splitlines()[-1])["total"] == 0


def test_every_option_of_the_command_has_help() -> None:
    options = [a for a in standin_main.build_parser()._actions if a.option_strings]
    assert len(options) >= 19
    assert [a.option_strings[0] for a in options if not a.help] == []


def test_the_command_runs_without_the_test_extras() -> None:
    """Only aiohttp and orjson (core dependencies) are imported by the command."""
    probe = (
        "import sys, runpy; sys.argv = ['x', '--help']\n"
        "try: runpy.run_module('ingest.standin', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('pytest', 'moto', 'boto3', 'yaml') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


async def test_authentication_answers_as_tmdb_does(standin: Standin) -> None:
    """``/3/authentication``, the start-up check of the credentials (``ingest.run.checks``)."""
    status, body = await _get(f"{standin.url}/3/authentication")
    assert (status, body) == (200, {"success": True, "status_code": 1, "status_message": "Success."})
    async with aiohttp.ClientSession() as http, http.get(f"{standin.url}/3/authentication") as resp:
        assert (resp.status, (await resp.json())["status_code"]) == (401, 7)


def test_every_genre_has_movies_and_franchises_mostly_keep_to_one_genre() -> None:
    catalog = Catalog.synthetic({CRIME: 600, WAR: 300}, seed=1)
    assert {g: len(catalog.genre_ids(g)) for g in GENRE_NAMES if not catalog.genre_ids(g)} == {}
    assert (len(catalog.genre_ids(CRIME)), len(catalog.genre_ids(WAR))) == (600, 300)
    # Realistic overlaps: a War film is mostly also a Drama; few are Comedies.
    war = catalog.genre_ids(WAR)
    drama, comedy = len(war & catalog.genre_ids(18)), len(war & catalog.genre_ids(35))
    assert drama > 0.4 * len(war) and comedy < 0.15 * len(war)
    # A franchise is drawn among one genre's films: War's are not Crime's as well.
    crime_c, war_c = catalog.collection_ids(catalog.genre_ids(CRIME)), catalog.collection_ids(war)
    assert len(war_c) >= 20 and len(war_c & crime_c) < 0.5 * len(war_c)


def test_wars_are_keywords_of_war_films_world_war_ii_most() -> None:
    catalog = Catalog.synthetic({CRIME: 600, WAR: 300}, seed=1)
    wars = Counter[str]()
    for movie_id, movie in catalog.movies.items():
        names = {k["name"] for k in catalog.keywords(movie_id)["keywords"]}
        named = {n for n in names if n.endswith(("war", "war i", "war ii"))}
        assert bool(named) == (WAR in movie.genre_ids), (movie_id, movie.genre_ids, named)
        wars.update(named)
    assert wars.most_common(1)[0][0] == "world war ii" and len(wars) == 8
