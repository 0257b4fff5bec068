"""The TMDB client against the fake TMDB over real HTTP: classification, retries, 429s,
stalls, the concurrency cap, and credentials kept out of every message."""

from __future__ import annotations

import asyncio
import collections
import email.utils
import heapq
import random
import time

import pytest
from structlog.testing import capture_logs

from ingest.errors import AuthError, RemoteError, RetryableError, SkippedRecord
from ingest.remote.retry import Backoff
from ingest.reports.counts import TmdbStats
from ingest.standin import STANDIN_API_KEY, Catalog, Standin
from ingest.tmdb.client import ClientTuning, TmdbClient
from ingest.tmdb.rate import AdaptiveRate, Sent, SlidingWindow, WindowLog
from ingest.tmdb.verdicts import Verdict, parse_retry_after, read_answer
from tests.tmdb_fixtures import FAST, settings_for


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({10752: 300, 80: 200}, seed=7)


def _client(url: str, stats: TmdbStats, tuning: ClientTuning = FAST, **kw: object) -> TmdbClient:
    settings = settings_for(url, "unused", **kw)  # type: ignore[arg-type]
    return TmdbClient(settings.tmdb, stats, tuning=tuning)


async def _get_all(client: TmdbClient, ids: list[int]) -> dict[int, bytes]:
    out: dict[int, bytes] = {}

    async def one(i: int) -> None:
        out[i] = (await client.get(f"/movie/{i}", {"append_to_response": "keywords"})).body

    async with asyncio.TaskGroup() as tg:
        for i in ids:
            tg.create_task(one(i))
    return out


# read_answer and friends: pure functions ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "verdict", "retry_after"),
    [
        (200, b'{"id": 1}', {}, Verdict.OK, None),
        (200, b'{"id": 1', {}, Verdict.RETRY, None),
        (429, b'{"status_code":25,"status_message":"over"}', {"Retry-After": "2"}, Verdict.THROTTLED, 2.0),
        (429, b'{"status_code":25}', {}, Verdict.THROTTLED, None),
        (500, b"{}", {}, Verdict.RETRY, None),
        (503, b"<html>down</html>", {"Retry-After": "1"}, Verdict.RETRY, 1.0),
        (401, b'{"status_code":7}', {}, Verdict.AUTH, None),
        (404, b'{"status_code":34}', {}, Verdict.NOT_FOUND, None),
        (400, b'{"status_code":22}', {}, Verdict.REFUSED, None),
    ],
)
def test_read_answer(
    status: int, body: bytes, headers: dict[str, str], verdict: Verdict, retry_after: float | None
) -> None:
    outcome = read_answer(status, body, headers)
    assert outcome.verdict is verdict
    assert outcome.retry_after_s == retry_after
    if verdict is Verdict.OK:
        assert outcome.body == body and outcome.data == {"id": 1}


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (parse_retry_after(later) or 0) <= 30


def test_backoff_honours_retry_after_and_grows() -> None:
    rng = random.Random(1)
    backoff = ClientTuning().backoff
    assert backoff == Backoff(0.5, 30, 60)
    assert all(4.0 <= backoff.delay_s(1, rng, 4.0) <= 4.8 for _ in range(50))
    # A hint beyond the cap is not waited out in full.
    assert all(60.0 <= backoff.delay_s(1, rng, 600.0) <= 72.0 for _ in range(50))
    first = [backoff.delay_s(1, rng) for _ in range(50)]
    fifth = [backoff.delay_s(5, rng) for _ in range(50)]
    assert all(0.25 <= w <= 0.5 for w in first)
    assert all(4.0 <= w <= 8.0 for w in fifth)
    assert max(backoff.delay_s(30, rng) for _ in range(50)) <= 30


def test_adaptive_rate_cuts_on_repeated_429s_and_recovers() -> None:
    now = [0.0]
    rate = AdaptiveRate(40, floor=1.0, clock=lambda: now[0])
    # A lone 429 among good answers is noise.
    for i in range(200):
        now[0] += 0.025
        rate.record(throttled=i == 100)
    assert rate.rate == 40
    # A storm: every answer a 429, for ten seconds.
    for _ in range(400):
        now[0] += 0.025
        rate.record(throttled=True)
    assert 1.0 <= rate.rate < 5
    low = rate.rate
    for _ in range(40 * 60):
        now[0] += 0.025
        rate.record(throttled=False)
        assert rate.rate <= 40
    assert low < rate.rate == 40
    # A long storm never goes below the floor.
    for _ in range(10_000):
        now[0] += 0.05
        rate.record(throttled=True)
    assert rate.rate == 1.0


async def test_the_window_spends_the_burst_then_holds_the_sliding_second() -> None:
    now = [100.0]
    window = SlidingWindow(40, clock=lambda: now[0])
    # After a quiet second the whole window's worth goes at once, as TMDB allows, only
    # spread a little (a tenth of the rate's spacing apart).
    tickets = [await window.acquire()]
    for _ in range(39):
        now[0] += window.wait_s()
        tickets.append(await window.acquire())
    assert now[0] - 100.0 < 0.1 < window.wait_s()
    assert window.window_s > 1.0
    now[0] = 100.0
    # A request counts from when its headers went out, which may be later than its turn.
    now[0] += 0.3
    window.sent(tickets[0])
    for t in tickets[1:]:
        window.sent(t)
    now[0] += 0.8
    assert 0 < window.wait_s() <= window.span_s
    # A run's first windows are a little wider than the later ones.
    assert window.span_s > window.window_s
    now[0] = 100.3 + window.span_s
    assert window.wait_s() == 0
    # A cut keeps the log: it never lets a fresh burst through.
    window.set_rate(20)
    assert window.wait_s() == 0 and len([await window.acquire()]) == 1
    now[0] += 0.001
    window.set_rate(1)
    assert window.wait_s() > 0


async def test_a_narrower_window_on_a_shared_log_leaves_a_wider_ones_requests_counted() -> None:
    """Two windows on one TMDB share a log; the narrower one trims it as it reads it. What
    it trims must not be what the wider one (a margin widened by a 429) still counts."""
    now = [100.0]
    log = WindowLog()
    wide = SlidingWindow(40, clock=lambda: now[0], log=log)
    narrow = SlidingWindow(40, clock=lambda: now[0], log=log)
    wide.widen()
    wide.widen()
    assert wide.span_s > narrow.span_s
    for _ in range(40):
        now[0] += wide.wait_s()
        wide.sent(await wide.acquire())
    first = log[0].at
    # Past the narrow window of the first request, inside the wide one.
    now[0] = first + (narrow.span_s + wide.span_s) / 2
    assert narrow.wait_s() == 0
    assert wide.wait_s() > 0
    now[0] = first + wide.span_s
    assert wide.wait_s() == 0


def _sliding_refusals(counted: list[float], rate: int) -> int:
    """What a server counting ``rate`` requests over a sliding second refuses of these."""
    window: collections.deque[float] = collections.deque()
    refused = 0
    for at in counted:
        while window and window[0] <= at - 1.0:
            window.popleft()
        if len(window) >= rate:
            refused += 1
        else:
            window.append(at)
    return refused


def _bucket_refusals(counted: list[float], rate: float, burst: float) -> int:
    """What a token bucket of ``burst`` tokens refilled at ``rate`` (full at first) refuses."""
    tokens, then, refused = burst, counted[0], 0
    for at in counted:
        tokens = min(burst, tokens + (at - then) * rate)
        then = at
        if tokens < 1.0:
            refused += 1
        else:
            tokens -= 1.0
    return refused


@pytest.mark.parametrize("seed", range(3))
async def test_the_windows_schedule_is_within_both_server_models_at_the_ceiling(seed: int) -> None:
    """800 requests through the limiter on a fake clock, each written up to 3 ms after its
    turn and counted by the server up to 4.5 ms after that (less than the 8 ms margin): neither
    a sliding second nor a token bucket of the rate's size would refuse one, and the
    schedule keeps within 2% of the rate (the margin, and each request's lateness)."""
    rng = random.Random(seed)
    now = [100.0]
    window = SlidingWindow(40, clock=lambda: now[0])
    pending: list[tuple[float, int, Sent]] = []
    counted: list[float] = []
    for n in range(800):
        while (wait := window.wait_s()) > 0 or (pending and pending[0][0] <= now[0]):
            if pending and pending[0][0] <= now[0] + wait:
                at, _, ticket = heapq.heappop(pending)
                now[0] = max(now[0], at)
                window.sent(ticket)
                counted.append(now[0] + rng.uniform(0, 0.0045))
            else:
                now[0] += wait
        ticket = await window.acquire()
        heapq.heappush(pending, (now[0] + rng.uniform(0, 0.003), n, ticket))
    for at, _, ticket in sorted(pending):
        now[0] = max(now[0], at)
        window.sent(ticket)
        counted.append(now[0] + rng.uniform(0, 0.0045))
    counted.sort()
    assert _sliding_refusals(counted, 40) == 0
    assert _bucket_refusals(counted, 40.0, 40.0) == 0
    # The first 40 are the opening burst; the rest go at the rate, less the window's margin.
    assert (800 - 40) / (counted[-1] - counted[0]) >= 40 * 0.98


@pytest.mark.parametrize("delay_ms", [0.5, 2.0])
async def test_a_waiting_request_is_let_go_early_by_the_least_delay_before_its_headers(
    monkeypatch: pytest.MonkeyPatch, delay_ms: float
) -> None:
    """Every request's headers go out a delay after the window lets it go (a 0.5-1.5x
    spread around ``delay_ms``, as a sleep's wake-up and the HTTP client's work make it):
    no two requests ``count`` apart are closer than the window less the lead (a request
    quicker than every recent one), nearly all are as far apart as the window, margin
    included, and once the window has seen a few delays they no longer pile up on top of
    it."""
    rng = random.Random(7)
    now = [100.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr("ingest.tmdb.rate.asyncio.sleep", sleep)
    window = SlidingWindow(40, clock=lambda: now[0])
    out: list[float] = []
    for _ in range(40 * 20):
        ticket = await window.acquire()
        now[0] += delay_ms / 1000 * rng.uniform(0.5, 1.5)
        window.sent(ticket)
        out.append(ticket.at)
    gaps = [b - a for a, b in zip(out, out[40:], strict=False)]
    assert min(gaps) >= window.window_s - window.lead_s - 1e-9
    assert sum(g < window.window_s for g in gaps) <= len(gaps) // 100
    assert delay_ms / 1000 * 0.5 <= window.lead_s < delay_ms / 1000 * 0.6
    # What is left on top of the window: the spread of the delay, not the delay itself
    # (without the lead, half the gaps would be the window and the whole delay or more).
    late = sorted(g - window.window_s for g in gaps[200:])
    assert late[len(late) // 2] < delay_ms / 1000 * 0.8
    # The first windows' wider margin is over.
    assert window.span_s == window.window_s


def test_a_429_widens_the_window_and_good_answers_narrow_it_back() -> None:
    now = [0.0]
    rate = AdaptiveRate(40, clock=lambda: now[0])
    window = rate._limiter
    base = window.window_s
    rate.record(throttled=True)
    assert window.window_s > base and rate.rate == 40
    for _ in range(40 * 60):
        now[0] += 0.025
        rate.record(throttled=False)
    assert window.window_s == pytest.approx(base)


# Over HTTP ---------------------------------------------------------------------------------


async def test_faults_are_retried_until_every_answer_is_had(catalog: Catalog) -> None:
    fake = Standin(catalog, failure_rate=0.3, seed=5)
    ids = sorted(catalog.genre_ids(10752))[:120]
    stats = TmdbStats()
    async with fake.serve() as url, _client(url, stats) as client:
        bodies = await _get_all(client, ids)
    assert set(bodies) == set(ids)
    assert stats.retries == fake.counters.injected_429 + fake.counters.injected_5xx > 0
    assert stats.throttled == fake.counters.injected_429
    assert stats.requests == fake.counters.total
    assert client.first_attempts == len(ids)


@pytest.mark.parametrize("retry_after", [True, False])
async def test_a_429_storm_is_survived_and_slows_the_client(catalog: Catalog, retry_after: bool) -> None:
    fake = Standin(catalog, rate_limit=80, retry_after=retry_after)
    ids = sorted(catalog.genre_ids(10752))[:120]
    stats = TmdbStats()
    # Retry-After (1 s) honoured in full, as in production; backoff a little shorter.
    patient = ClientTuning(Backoff(base_s=0.05, cap_s=1.0, hint_cap_s=1.0))
    with capture_logs() as logs:
        async with (
            fake.serve() as url,
            _client(url, stats, patient, rate_per_s=400, max_attempts=12) as client,
        ):
            bodies = await _get_all(client, ids)
    assert set(bodies) == set(ids)
    assert fake.counters.throttled > 0
    assert stats.throttled == fake.counters.throttled
    assert any(e["event"] == "rate_lowered" for e in logs)
    if retry_after:
        assert fake.counters.throttled_with_retry_after == fake.counters.throttled


@pytest.mark.parametrize("model", ["sliding", "bucket"])
async def test_requests_at_the_stand_ins_own_limit_draw_no_429(catalog: Catalog, model: str) -> None:
    # The stand-in counts 40 over a sliding second, or keeps a bucket of 40 tokens refilled
    # at 40 a second; the client paces at the same 40: the start-up check and the requests
    # share one window, the burst is spent, none refused by either model.
    fake = Standin(catalog, rate_limit=40, rate_model=model, latency_s=0.02)
    ids = sorted(catalog.genre_ids(10752))[:100]
    stats = TmdbStats()
    async with fake.serve() as url:
        async with _client(url, stats, rate_per_s=40) as check:
            await check.get("/authentication")
        async with _client(url, stats, rate_per_s=40, concurrency=20) as client:
            bodies = await _get_all(client, ids)
    assert set(bodies) == set(ids)
    assert fake.counters.throttled == 0 and stats.throttled == 0
    assert stats.requests == fake.counters.total == len(ids) + 1


async def test_stalled_answers_are_abandoned_and_retried(catalog: Catalog) -> None:
    ids = sorted(catalog.genre_ids(10752))[:20]
    stalled = set(ids[:3])
    fake = Standin(catalog, stall_ids=stalled, stall_s=30)
    stats = TmdbStats()
    async with fake.serve() as url, _client(url, stats, read_timeout_s=0.3) as client:
        bodies = await _get_all(client, ids)
    assert set(bodies) == set(ids)
    assert fake.counters.stalled == 3
    assert all(fake.counters.movie_requests[i] == 2 for i in stalled)
    assert stats.retries == 3


async def test_requests_in_flight_stay_under_the_cap(catalog: Catalog) -> None:
    fake = Standin(catalog, latency_s=0.03, max_connections=3)
    ids = sorted(catalog.genre_ids(80))[:40]
    stats = TmdbStats()
    async with fake.serve() as url, _client(url, stats, concurrency=3) as client:
        await _get_all(client, ids)
    assert fake.counters.peak_in_flight == 3
    assert fake.counters.refused_connections == 0


async def test_401_is_an_auth_error_that_names_the_fix_not_the_token(catalog: Catalog) -> None:
    fake = Standin(catalog)
    bad = "not-the-right-token-123456"
    async with fake.serve() as url, _client(url, TmdbStats(), token=bad) as client:
        with pytest.raises(AuthError) as caught:
            await client.get("/movie/1")
    assert "TMDB_READ_ACCESS_TOKEN" in str(caught.value)
    assert bad not in str(caught.value)
    assert fake.counters.unauthorized == 1


async def test_404_is_a_skipped_record(catalog: Catalog) -> None:
    gone = min(catalog.genre_ids(10752))
    fake = Standin(catalog, gone_ids={gone})
    async with fake.serve() as url, _client(url, TmdbStats()) as client:
        with pytest.raises(SkippedRecord) as caught:
            await client.get(f"/movie/{gone}", item_id=gone)
    assert caught.value.item_id == gone


async def test_page_501_is_refused_for_good(catalog: Catalog) -> None:
    fake = Standin(catalog)
    async with fake.serve() as url, _client(url, TmdbStats()) as client:
        with pytest.raises(RemoteError) as caught:
            await client.get("/discover/movie", {"with_genres": 80, "page": 501})
    assert caught.value.status == 400
    assert "status_code 22" in str(caught.value)
    assert fake.counters.requests["discover"] == 1


async def test_the_api_key_never_reaches_an_error_or_a_log(catalog: Catalog) -> None:
    fake = Standin(catalog, failure_rate=1.0, seed=2)
    stats = TmdbStats()
    with capture_logs() as logs:
        async with (
            fake.serve() as url,
            _client(url, stats, token=None, api_key=STANDIN_API_KEY, max_attempts=3) as client,
        ):
            with pytest.raises(RetryableError) as caught:
                await client.get("/movie/11", {"append_to_response": "keywords"})
            fake.failure_rate = 0.0
            ok = await client.get(f"/movie/{min(catalog.movies)}")
    assert ok.data["id"] == min(catalog.movies)
    assert stats.requests == 4
    assert STANDIN_API_KEY not in str(caught.value) and STANDIN_API_KEY not in repr(caught.value)
    assert "/3/movie/11" in str(caught.value)
    assert logs and not any(STANDIN_API_KEY in str(e) for e in logs)
