"""Stage 2 end to end: the fake TMDB over HTTP on one side, a real lake (a directory, or
S3 in moto's server mode) on the other, and every assertion on what was read back."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from pathlib import Path

import orjson
import pytest
from structlog.testing import capture_logs

from ingest.errors import AuthError, IngestError, LakeError, RunError, UsageError, raise_primary
from ingest.lake import Lake
from ingest.lake.keys import Kind, tmdb_prefix
from ingest.reports.counts import TmdbStats
from ingest.standin import Catalog, Standin
from ingest.state import open_lake
from ingest.state.dataset import CatalogueDataset, GenreDataset
from ingest.state.plan import load_plan
from ingest.stop import Stop
from ingest.tmdb.files import MAX_FILE_BYTES, as_line, pack
from ingest.tmdb.stage import run_tmdb
from tests.helpers import eventually
from tests.tmdb_fixtures import DATE, FAST, lake_files, records, settings_for

WAR, CRIME = 10752, 80


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({WAR: 450, CRIME: 320}, seed=3)


async def _run(lake: Lake, url: str, stop: Stop | None = None, **kw: object) -> tuple[bool, TmdbStats]:
    stats = TmdbStats()
    settings = settings_for(url, lake.url, **kw)  # type: ignore[arg-type]
    done = await run_tmdb(lake, settings, stats, stop=stop or Stop(), progress=False, tuning=FAST)
    return done, stats


def _ids(files: dict[str, bytes]) -> list[int]:
    return [r["id"] for r in records(files)]


async def test_genres_and_collections_land_whole_and_once(tmp_path: Path, catalog: Catalog) -> None:
    fake = Standin(catalog, failure_rate=0.08, seed=4)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        done, stats = await _run(lake, url, genres=("war", "crime"), collections=True)
        war = await lake_files(lake, Kind.MOVIES, "war")
        crime = await lake_files(lake, Kind.MOVIES, "crime")
        war_c = await lake_files(lake, Kind.COLLECTIONS, "war")
        crime_c = await lake_files(lake, Kind.COLLECTIONS, "crime")
        plan = await load_plan(lake, DATE, Kind.MOVIES, "war")
    assert done
    for files, genre in ((war, WAR), (crime, CRIME)):
        ids = _ids(files)
        assert Counter(ids).most_common(1)[0][1] == 1
        assert set(ids) == catalog.genre_ids(genre)
    # Movies of both genres are stored under each: each genre is its own dataset.
    assert set(_ids(war)) & set(_ids(crime))
    # File names, record counts, sizes: batches of 100 in plan order, JSON Lines.
    prefix = tmdb_prefix(Kind.MOVIES, DATE)
    n = math.ceil(450 / 100)
    assert list(war) == [f"{prefix}war-{i:05d}.json" for i in range(1, n + 1)]
    assert [len(d.splitlines()) for d in war.values()] == [100, 100, 100, 100, 50]
    assert all(len(d) < MAX_FILE_BYTES and d.endswith(b"\n") for d in war.values())
    assert plan is not None and _ids(war) == list(plan.ids)
    # Records exactly as TMDB sent them, keywords appended.
    for line in next(iter(war.values())).splitlines()[:20]:
        record = orjson.loads(line)
        assert line == orjson.dumps(catalog.detail(record["id"], {"keywords"}))
        assert isinstance(record["keywords"]["keywords"], list)
    # Collections: the distinct franchises of each genre's movies, each fetched once.
    for files, movies in ((war_c, war), (crime_c, crime)):
        cids = _ids(files)
        assert len(cids) == len(set(cids))
        assert set(cids) == catalog.collection_ids(_ids(movies))
        assert all("parts" in r for r in records(files))
    assert all(n == 1 for n in Counter(_ids(war_c)).values())
    assert stats.planned == stats.written == 450 + 320
    assert stats.collections_planned == stats.collections_written == len(_ids(war_c)) + len(_ids(crime_c))
    assert stats.requests == fake.counters.total
    assert stats.retries == fake.counters.injected_429 + fake.counters.injected_5xx > 0
    assert stats.files == len(war) + len(crime) + len(war_c) + len(crime_c)


async def test_rerun_reuses_the_plan_and_fetches_nothing(tmp_path: Path, catalog: Catalog) -> None:
    fake = Standin(catalog)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        assert (await _run(lake, url, collections=True))[0]
        before = dict(await lake_files(lake, Kind.MOVIES, "war"))
        first = fake.counters.total
        done, stats = await _run(lake, url, collections=True)
        after = await lake_files(lake, Kind.MOVIES, "war")
    assert done and fake.counters.total == first and stats.requests == 0
    assert after == before
    assert stats.planned == 450 and stats.written == 0


async def test_a_plan_grows_with_the_limit_and_short_batches_are_redone(
    tmp_path: Path, catalog: Catalog
) -> None:
    fake = Standin(catalog)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        await _run(lake, url, limit=150)
        first = await lake_files(lake, Kind.MOVIES, "war")
        assert [len(d.splitlines()) for d in first.values()] == [100, 50]
        fake.counters.movie_requests.clear()
        # A smaller limit is served by the plan as it is: no discover, nothing to fetch.
        discover = fake.counters.requests["discover"]
        done, stats = await _run(lake, url, limit=90)
        assert done and stats.requests == 0
        done, stats = await _run(lake, url, limit=250)
        grown = await lake_files(lake, Kind.MOVIES, "war")
        plan = await load_plan(lake, DATE, Kind.MOVIES, "war")
    assert done and plan is not None and plan.limit == 250
    assert [len(d.splitlines()) for d in grown.values()] == [100, 100, 50]
    # Batch 1 kept its file; batch 2 (50 of 100 ids before) was redone; batch 3 is new.
    assert next(iter(grown.values())) == next(iter(first.values()))
    assert _ids(grown) == list(plan.ids[:250]) and len(set(_ids(grown))) == 250
    assert sum(fake.counters.movie_requests.values()) == 150
    assert fake.counters.requests["discover"] - discover == math.ceil(250 / 20)


async def test_stop_lets_started_batches_finish_and_the_rerun_completes(
    tmp_path: Path, catalog: Catalog
) -> None:
    fake = Standin(catalog, latency_s=0.01)
    stop = Stop()

    async def stop_after_first_file(lake: Lake) -> None:
        """Request the stop once a first file is in, while the run is still going."""

        async def first_file() -> bool:
            assert not run.done(), "the run ended before its first file was seen"
            return bool(await lake_files(lake, Kind.MOVIES, "war"))

        await eventually(first_file, "a first file", every_s=0.005)
        stop.request("test")

    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        async with asyncio.TaskGroup() as tg:
            run = tg.create_task(_run(lake, url, stop, concurrency=4, collections=True))
            tg.create_task(stop_after_first_file(lake))
        # The stop came from the watcher, while the run was still going.
        assert stop.reason == "test"
        done, _ = run.result()
        partial = await lake_files(lake, Kind.MOVIES, "war")
        assert not done and 1 <= len(partial) < 5
        assert all(len(d.splitlines()) == 100 for d in partial.values())
        assert not await lake_files(lake, Kind.COLLECTIONS, "war")
        done, _ = await _run(lake, url, collections=True)
        war = await lake_files(lake, Kind.MOVIES, "war")
    assert done and sorted(_ids(war)) == sorted(catalog.genre_ids(WAR))
    assert {k: war[k] for k in partial} == partial


async def test_404s_are_skipped_counted_and_the_batch_still_done(tmp_path: Path, catalog: Catalog) -> None:
    gone = set(sorted(catalog.genre_ids(WAR))[:3])
    fake = Standin(catalog, gone_ids=gone)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        done, stats = await _run(lake, url)
        again, stats2 = await _run(lake, url)
        war = await lake_files(lake, Kind.MOVIES, "war")
    assert done and again and stats2.requests == 0
    assert stats.skipped == 3 and stats.written == 447
    assert set(_ids(war)) == catalog.genre_ids(WAR) - gone


async def test_a_batch_that_keeps_failing_fails_alone_and_the_rerun_mends_it(
    tmp_path: Path, catalog: Catalog
) -> None:
    broken = sorted(catalog.genre_ids(WAR))[7]
    fake = Standin(catalog, broken_ids={broken})
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        with pytest.raises(RunError) as caught:
            await _run(lake, url, max_attempts=3)
        assert "1 batch of war movies failed" in str(caught.value)
        plan = await load_plan(lake, DATE, Kind.MOVIES, "war")
        assert plan is not None
        failed_batch = plan.ids.index(broken) // 100 + 1
        partial = await lake_files(lake, Kind.MOVIES, "war")
        assert len(partial) == 4 and not any(f"war-{failed_batch:05d}" in k for k in partial)
        fake.broken_ids.clear()
        fake.counters.movie_requests.clear()
        done, _ = await _run(lake, url)
        war = await lake_files(lake, Kind.MOVIES, "war")
    assert done and sorted(_ids(war)) == sorted(catalog.genre_ids(WAR))
    expected = len(plan.batches(len(plan.ids))[failed_batch - 1].ids)
    assert sum(fake.counters.movie_requests.values()) == expected


async def test_collections_alone_fetches_missing_movie_batches_first(
    tmp_path: Path, catalog: Catalog
) -> None:
    fake = Standin(catalog)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        await _run(lake, url, limit=200)
        earlier = await lake_files(lake, Kind.MOVIES, "war")
        # The earlier batches' collection ids must come from their markers: the files no
        # longer name any collection.
        for key, data in earlier.items():
            lines = [orjson.loads(line) | {"belongs_to_collection": None} for line in data.splitlines()]
            await lake.write(key, b"".join(orjson.dumps(r) + b"\n" for r in lines))
        fake.counters.movie_requests.clear()
        done, stats = await _run(lake, url, movies=False, collections=True, limit=300)
        coll = await lake_files(lake, Kind.COLLECTIONS, "war")
        movies = await lake_files(lake, Kind.MOVIES, "war")
        before = fake.counters.total
        again, _ = await _run(lake, url, movies=False, collections=True, limit=300)
    assert done and again and fake.counters.total == before
    assert sum(fake.counters.movie_requests.values()) == 100
    assert len(_ids(movies)) == 300
    later = set(_ids(movies)) - set(_ids(earlier))
    assert catalog.collection_ids(_ids(earlier)) - catalog.collection_ids(later)
    assert set(_ids(coll)) == catalog.collection_ids(_ids(movies))
    assert stats.collections_written == len(_ids(coll))


async def test_an_oversized_batch_is_cut_into_numbered_pieces(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ingest.tmdb.files.MAX_FILE_BYTES", 60_000)
    fake = Standin(catalog)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        done, _ = await _run(lake, url, limit=150)
        files = await lake_files(lake, Kind.MOVIES, "war")
        again, stats = await _run(lake, url, limit=150)
        # Collections read the pieces back when a marker has no collection list.
    assert done and again and stats.requests == 0
    names = [k.rsplit("/", 1)[1] for k in files]
    assert "war-00001.json" in names and "war-10001.json" in names and "war-00002.json" in names
    assert all(len(d) <= 60_000 for d in files.values())
    plan_ids = [i for i in _ids(files)]
    assert sorted(plan_ids) == sorted(set(plan_ids)) and len(plan_ids) == 150


async def test_a_bad_token_stops_the_stage_with_an_auth_error(tmp_path: Path, catalog: Catalog) -> None:
    fake = Standin(catalog)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        with pytest.raises(AuthError):
            await _run(lake, url, token="wrong-token-abcdef")
    assert fake.counters.unauthorized == 1 and fake.counters.total == 1


async def test_s3_lake_round_trip_and_resume(s3_lake_url: str, s3, catalog: Catalog) -> None:  # type: ignore[no-untyped-def]
    fake = Standin(catalog, failure_rate=0.05, seed=9)
    async with fake.serve() as url, open_lake(s3_lake_url) as lake:
        done, stats = await _run(lake, url, genres=("crime",), collections=True)
        before = fake.counters.total
        again, _ = await _run(lake, url, genres=("crime",), collections=True)
    assert done and again and fake.counters.total == before
    bucket = s3_lake_url.removeprefix("s3://")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=tmdb_prefix(Kind.MOVIES, DATE))
    keys = [o["Key"] for o in listed["Contents"]]
    assert keys == [f"{tmdb_prefix(Kind.MOVIES, DATE)}crime-{i:05d}.json" for i in range(1, 5)]
    ids = []
    for key in keys:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        ids += [orjson.loads(line)["id"] for line in body.splitlines()]
    assert sorted(ids) == sorted(catalog.genre_ids(CRIME))
    coll = s3.list_objects_v2(Bucket=bucket, Prefix=tmdb_prefix(Kind.COLLECTIONS, DATE))
    assert coll["KeyCount"] == math.ceil(stats.collections_planned / 100)


def test_pack_and_numbering() -> None:
    lines = [as_line(b'{"id": %d}' % i, None) for i in range(250)]
    assert [f.count(b"\n") for f in pack(lines)] == [100, 100, 50]
    small = pack(lines[:100], max_bytes=300)
    assert all(len(f) <= 300 for f in small) and b"".join(small) == b"".join(lines[:100])
    assert [GenreDataset(Kind.MOVIES, slug="war").file_number(7, p) for p in (1, 2, 3)] == [7, 10_007, 20_007]
    assert [CatalogueDataset(Kind.MOVIES).file_number(7, p) for p in (1, 2)] == [7, 100_007]
    assert as_line(b'{"a":\n1}\n', {"a": 1}) == b'{"a":1}\n'
    assert as_line(b'{"a": "\xc3\xa9"}\r\n', None) == b'{"a": "\xc3\xa9"}\n'


async def test_collections_are_read_back_from_the_files_when_markers_are_unreadable(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small files, so a batch is cut into pieces and every piece must be read back.
    monkeypatch.setattr("ingest.tmdb.files.MAX_FILE_BYTES", 60_000)
    fake = Standin(catalog)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        assert (await _run(lake, url, limit=150))[0]
        movies = await lake_files(lake, Kind.MOVIES, "war")
        assert any("war-10001" in k for k in movies)
        markers = [k for k in await lake.list("_ingest/") if k.endswith(".done")]
        assert len(markers) == 2
        await lake.write(markers[0], b"not json")
        await lake.write(markers[1], b'{"batch": 2}')
        fake.counters.movie_requests.clear()
        done, stats = await _run(lake, url, movies=False, collections=True, limit=150)
        coll = await lake_files(lake, Kind.COLLECTIONS, "war")
    # No movie was fetched again: the ids came from the files, every piece of them.
    assert done and sum(fake.counters.movie_requests.values()) == 0
    expected = catalog.collection_ids(_ids(movies))
    assert expected and set(_ids(coll)) == expected
    assert stats.collections_written == len(expected)


async def test_a_401_inside_the_worker_pool_escapes_as_itself(tmp_path: Path, catalog: Catalog) -> None:
    broken = sorted(catalog.genre_ids(WAR))[3]
    fake = Standin(catalog, broken_ids={broken})
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        with pytest.raises(RunError):
            await _run(lake, url, max_attempts=1)
        # The plan is reused (no discover); the failed batch goes to the pool, and the
        # token has been revoked meanwhile: the worker's AuthError must not come out
        # wrapped in an ExceptionGroup.
        fake.broken_ids.clear()
        fake.token = "rotated-token"
        with pytest.raises(AuthError):
            await _run(lake, url)
    assert fake.counters.unauthorized >= 1


def test_raise_primary_prefers_auth_then_usage_then_the_lake() -> None:
    auth, usage, lake, run, other = (
        AuthError("401"),
        UsageError("usage"),
        LakeError("lake"),
        RunError("run"),
        RuntimeError("bug"),
    )
    cases: list[tuple[list[BaseException], BaseException]] = [
        ([other, run, ExceptionGroup("inner", [lake, auth])], auth),
        ([other, lake, usage], usage),
        ([other, run, lake], lake),
        ([other, ExceptionGroup("inner", [run])], run),
        ([other], other),
    ]
    for leaves, expected in cases:
        with pytest.raises(BaseException) as caught:
            raise_primary(ExceptionGroup("run", leaves))  # type: ignore[type-var]
        assert caught.value is expected
    assert issubclass(LakeError, IngestError)


async def test_retries_show_at_info_as_a_summary(tmp_path: Path, catalog: Catalog) -> None:
    fake = Standin(catalog, failure_rate=0.2, seed=5)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        with capture_logs() as logs:
            done, stats = await _run(lake, url, limit=200)
    assert done and stats.retries > 0
    summaries = [e for e in logs if e["event"] == "requests_retried"]
    assert summaries and all(e["log_level"] == "info" and e["remote"] == "tmdb" for e in summaries)
    # Every retry is counted once, by reason (the stand-in answers 429s and 5xx).
    assert sum(e["retries"] for e in summaries) == stats.retries
    reasons = Counter[str]()
    for e in summaries:
        reasons.update(e["by_reason"])
    assert set(reasons) <= {"429", "500", "502", "503", "504"} and "429" in reasons
    assert all(e["last_reason"] for e in summaries)
    # Not a line per retry.
    assert len(summaries) < stats.retries
