"""The stand-in's rate, enforced by either server model: a sliding second or a token bucket.

Over HTTP, with the stand-in's clock faked (the network is real)."""

from __future__ import annotations

import aiohttp
import pytest

from ingest.standin import STANDIN_TOKEN, Catalog, Standin

AUTH = {"Authorization": f"Bearer {STANDIN_TOKEN}"}


async def _statuses(session: aiohttp.ClientSession, url: str, n: int) -> list[int]:
    out = []
    for _ in range(n):
        async with session.get(url + "/3/genre/movie/list") as resp:
            out.append(resp.status)
    return out


async def test_a_sliding_second_refuses_the_rates_worth_plus_one_until_a_second_has_passed() -> None:
    now = [100.0]
    fake = Standin(Catalog.synthetic({80: 5}, seed=1), rate_limit=10, clock=lambda: now[0])
    async with fake.serve() as url, aiohttp.ClientSession(headers=AUTH) as session:
        assert await _statuses(session, url, 11) == [200] * 10 + [429]
        now[0] += 0.5
        assert await _statuses(session, url, 1) == [429]
        now[0] += 0.5
        assert await _statuses(session, url, 11) == [200] * 10 + [429]
    assert fake.counters.throttled == 3


async def test_a_token_bucket_grants_its_burst_then_the_rate() -> None:
    now = [100.0]
    fake = Standin(
        Catalog.synthetic({80: 5}, seed=1), rate_limit=10, rate_model="bucket", burst=4, clock=lambda: now[0]
    )
    async with fake.serve() as url, aiohttp.ClientSession(headers=AUTH) as session:
        assert await _statuses(session, url, 5) == [200] * 4 + [429]
        async with session.get(url + "/3/genre/movie/list") as resp:
            assert resp.status == 429 and resp.headers["Retry-After"] == "1"
        # A quarter of a second refills 2.5 tokens: two requests, not three.
        now[0] += 0.25
        assert await _statuses(session, url, 3) == [200, 200, 429]
        # Where a sliding second would have room for the rate's worth again, the bucket
        # has only what it refilled, up to its size.
        now[0] += 10.0
        assert await _statuses(session, url, 5) == [200] * 4 + [429]
    assert fake.counters.throttled == 4


def test_an_unknown_rate_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rate model 'leaky'"):
        Standin(Catalog.synthetic({80: 5}, seed=1), rate_limit=10, rate_model="leaky")
