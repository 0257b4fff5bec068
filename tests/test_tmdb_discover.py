"""The producer against the fake TMDB: a genre above discover's 10,000-result reach is
covered whole through release-date windows, with few wasted requests, and gaps are
reported with their reason."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from ingest.reports.counts import TmdbStats
from ingest.settings.genres import resolve_genre
from ingest.standin import Catalog, Standin
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.discover import Discoverer
from ingest.tmdb.discover_window import Window
from tests.tmdb_fixtures import FAST, settings_for

BIG = 10_600


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({10752: BIG, 80: 900}, seed=11)


def _by_popularity(catalog: Catalog, ids: set[int]) -> list[int]:
    return sorted(ids, key=lambda i: (-catalog.movies[i].popularity, i))


async def _enumerate(fake: Standin, genre: str, limit: int | None = None):  # type: ignore[no-untyped-def]
    async with fake.serve() as url:
        settings = settings_for(url, "unused", concurrency=16)
        async with TmdbClient(settings.tmdb, TmdbStats(), tuning=FAST) as client:
            return await Discoverer(client, resolve_genre(genre)).run(limit)


async def test_a_genre_past_10000_results_is_covered_whole(catalog: Catalog) -> None:
    fake = Standin(catalog)
    found = await _enumerate(fake, "war")
    war = catalog.genre_ids(10752)
    undated = {i for i in war if not catalog.movies[i].release_date}
    assert len(war) == BIG and undated
    assert set(found.ids) == war and len(found.ids) == len(war)
    assert found.ids == tuple(_by_popularity(catalog, war))
    assert found.complete and found.gap == 0 and found.gap_reason is None
    assert found.windows >= 2 and found.undated_found == len(undated)
    # Every page of every window is needed; the overhead is the unfiltered probe, the
    # page that places the cut, the undated listing and partial last pages.
    pages = math.ceil(BIG / 20)
    assert found.requests == fake.counters.requests["discover"]
    assert pages <= found.requests <= pages + 12
    assert 400 not in fake.counters.status


async def test_undated_movies_out_of_reach_are_reported_as_a_gap(catalog: Catalog) -> None:
    fake = Standin(catalog, undated_first_desc=False)
    found = await _enumerate(fake, "war")
    war = catalog.genre_ids(10752)
    dated = {i for i in war if catalog.movies[i].release_date}
    assert set(found.ids) >= dated
    assert found.gap == len(war) - len(found.ids) > 0
    assert found.gap_reason is not None and "release date" in found.gap_reason


async def test_a_small_genre_is_read_page_by_page(catalog: Catalog) -> None:
    fake = Standin(catalog)
    found = await _enumerate(fake, "crime")
    crime = catalog.genre_ids(80)
    assert set(found.ids) == crime and found.gap == 0 and found.windows == 1
    assert found.requests == math.ceil(len(crime) / 20)


async def test_limit_takes_the_most_popular(catalog: Catalog) -> None:
    fake = Standin(catalog)
    found = await _enumerate(fake, "war", limit=130)
    assert list(found.ids) == _by_popularity(catalog, catalog.genre_ids(10752))[:130]
    assert not found.complete
    assert found.requests == 7


def test_window_cuts() -> None:
    d = dt.date
    whole = Window()
    assert whole.cut([d(2000, 1, 1)]) == [Window(None, d(2000, 1, 1)), Window(d(2000, 1, 2), None)]
    w = Window(d(1990, 1, 1), d(1999, 12, 31))
    assert w.cut([d(1980, 1, 1), d(1999, 12, 31)]) == [w]
    assert w.cut([d(1995, 6, 1), d(1995, 6, 1)]) == [
        Window(d(1990, 1, 1), d(1995, 6, 1)),
        Window(d(1995, 6, 2), d(1999, 12, 31)),
    ]
    assert Window(d(2001, 1, 1), d(2001, 1, 1)).single_day
    assert Window(d(1990, 1, 1), d(1995, 6, 1)).params() == {
        "primary_release_date.gte": "1990-01-01",
        "primary_release_date.lte": "1995-06-01",
    }
