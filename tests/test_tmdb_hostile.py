"""A TMDB that answers 200 with the wrong thing (``ingest.standin.hostile``): another
movie's body, another id, a string id; discover pages without the fields the walk needs.
Nothing is stored under an id it was not fetched for, and nothing crashes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from ingest.errors import RunError
from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.reports.counts import TmdbStats
from ingest.standin import Catalog, Standin
from ingest.state import keys, open_lake
from ingest.state.plan import load_plan
from ingest.state.removed import read_removed
from ingest.status.render import render_json, render_text
from ingest.status.survey import survey
from ingest.stop import Stop
from ingest.tmdb import files as batching
from ingest.tmdb.stage import run_tmdb
from tests.helpers import delete_from_lake
from tests.tmdb_fixtures import DATE, FAST, lake_files, records, settings_for

WAR = 10752


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({WAR: 250}, seed=19)


async def _run(lake: Lake, url: str, **kw: object) -> tuple[bool, TmdbStats]:
    stats = TmdbStats()
    settings = settings_for(url, lake.url, max_attempts=3, **kw)  # type: ignore[arg-type]
    done = await run_tmdb(lake, settings, stats, stop=Stop(), progress=False, tuning=FAST)
    return done, stats


async def _stored_in_plan_order(lake: Lake, kind: Kind) -> None:
    """Every stored record sits in the slot of the plan id it was fetched for."""
    plan = await load_plan(lake, DATE, kind, "war")
    assert plan is not None
    for key, data in (await lake_files(lake, kind, "war")).items():
        number = int(key.rsplit("-", 1)[1].removesuffix(".json"))
        batch = plan.batches(len(plan.ids))[number - 1]
        assert [r["id"] for r in records({key: data})] == list(batch.ids)


async def test_answers_for_another_id_fail_their_movie_and_are_never_stored(
    tmp_path: Path, catalog: Catalog
) -> None:
    # One movie per fault: two in batch 1 of the popularity-ordered plan, one in batch 2.
    ranked = sorted(catalog.genre_ids(WAR), key=lambda i: (-catalog.movies[i].popularity, i))
    hostile = {ranked[5]: "wrong_id", ranked[50]: "string_id", ranked[150]: "swapped"}
    fake = Standin(catalog, hostile=hostile)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        with pytest.raises(RunError) as caught:
            await _run(lake, url)
        stored = records(await lake_files(lake, Kind.MOVIES, "war"))
        await _stored_in_plan_order(lake, Kind.MOVIES)
        # Each was asked for again (retried), then its batch failed.
        assert all(fake.counters.movie_requests[i] == 3 for i in hostile)
        assert "2 batches of war movies failed (3 movies" in str(caught.value)
        assert "wrong answer: 200 for id" in str(caught.value)
        assert len(stored) == 50 and not {r["id"] for r in stored} & set(hostile)
        # TMDB behaves again: the rerun stores the three under their own ids, once each.
        fake.hostile.clear()
        done, _ = await _run(lake, url)
        stored = records(await lake_files(lake, Kind.MOVIES, "war"))
        await _stored_in_plan_order(lake, Kind.MOVIES)
    assert done
    ids = [r["id"] for r in stored]
    assert Counter(ids).most_common(1)[0][1] == 1 and set(ids) == catalog.genre_ids(WAR)


async def test_a_collection_answer_for_another_id_fails_its_batch(tmp_path: Path, catalog: Catalog) -> None:
    fake = Standin(catalog)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        assert (await _run(lake, url))[0]
        wanted = sorted(catalog.collection_ids(catalog.genre_ids(WAR)))
        fake.hostile = {wanted[0]: "swapped", wanted[1]: "wrong_id"}
        with pytest.raises(RunError, match="war collections failed"):
            await _run(lake, url, collections=True)
        stored = records(await lake_files(lake, Kind.COLLECTIONS, "war"))
        await _stored_in_plan_order(lake, Kind.COLLECTIONS)
    assert wanted[0] not in {r["id"] for r in stored}


async def test_discover_results_without_a_usable_id_are_skipped_and_counted(
    tmp_path: Path, catalog: Catalog
) -> None:
    fake = Standin(catalog, page_fault="missing_id")
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        done, stats = await _run(lake, url)
        plan = await load_plan(lake, DATE, Kind.MOVIES, "war")
        stored = records(await lake_files(lake, Kind.MOVIES, "war"))
    assert done and plan is not None
    pages = fake.counters.requests["discover"]
    assert pages == 13 and plan.history[0]["unusable_results"] == pages
    # The first movie of every page was left out; the others are all there, once.
    assert len(plan.ids) == 250 - pages == stats.written
    assert sorted(r["id"] for r in stored) == sorted(plan.ids)


@pytest.mark.parametrize("fault", ["null_results", "no_total"])
async def test_a_discover_page_without_the_fields_the_walk_needs_is_a_failed_request(
    tmp_path: Path, catalog: Catalog, fault: str
) -> None:
    fake = Standin(catalog, page_fault=fault)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        with pytest.raises(RunError) as caught:
            await _run(lake, url)
        assert await load_plan(lake, DATE, Kind.MOVIES, "war") is None
    message = str(caught.value)
    assert "still failing after 3 attempts" in message and "a discover page without" in message
    assert fake.counters.requests["discover"] == 3


async def test_a_record_over_the_file_cap_is_set_apart_and_its_genre_completes(
    tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cap of 1 MB (a batch of 100 is ~300 KB) and one answer of 1.5 MB: the 10 MB cap and
    # a 50 MB answer, scaled down.
    monkeypatch.setattr(batching, "MAX_FILE_BYTES", 1_000_000)
    ranked = sorted(catalog.genre_ids(WAR), key=lambda i: (-catalog.movies[i].popularity, i))
    huge = ranked[120]
    fake = Standin(catalog, hostile={huge: "huge"}, huge_bytes=1_500_000)
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        done, stats = await _run(lake, url)
        stored = records(await lake_files(lake, Kind.MOVIES, "war"))
        note = orjson.loads(
            await lake.read(f"{keys.dataset(DATE, 'movies', 'war')}oversized/{huge}.json") or b""
        )
        again, rerun = await _run(lake, url)
        status = await survey(lake, DATE)
    assert done and again and rerun.requests == 0
    # Fetched once, not retried; every other movie of the genre is in, once.
    assert fake.counters.movie_requests[huge] == 1 and stats.oversized == 1
    assert sorted(r["id"] for r in stored) == sorted(catalog.genre_ids(WAR) - {huge})
    assert (
        note["id"] == huge and note["bytes"] > 1_500_000 - 100 and "over the 1000000-byte" in note["reason"]
    )
    (movies,) = status.tmdb
    assert status.complete and movies.oversized == 1 and movies.written == 249
    assert orjson.loads(render_json(status))["tmdb"][0]["oversized"] == 1
    assert "1 record(s) over the file cap" in render_text(status)


async def test_removed_json_never_lists_a_movie_whose_record_is_in_the_partition(
    tmp_path: Path, catalog: Catalog
) -> None:
    """Two runs of one date that saw different catalogues wrote the same batch at once:
    run B (the movie deleted on TMDB: 404) and run A (the movie still there). Their writes
    interleaved as B's file, A's file, B's marker, A's marker: the file holds the movie,
    and a marker of B says it was not found. Staged here in that order, one run at a time."""
    ranked = sorted(catalog.genre_ids(WAR), key=lambda i: (-catalog.movies[i].popularity, i))
    gone = ranked[130]
    fake = Standin(catalog, gone_ids={gone})
    async with fake.serve() as url, open_lake(str(tmp_path)) as lake:
        # Run B: the movie answers 404; batch 2 is written without it.
        assert (await _run(lake, url))[0]
        (b_marker,) = [
            k for k in await lake.list(f"{keys.dataset(DATE, 'movies', 'war')}done/") if "/00002-" in k
        ]
        b_body = await lake.read(b_marker)
        assert b_body is not None and orjson.loads(b_body)["skipped"] == [gone]
        # Run A: the movie is there; it wrote batch 2 too (B's marker was not there yet).
        delete_from_lake(lake.url, b_marker)
        fake.gone_ids.clear()
        assert (await _run(lake, url))[0]
        await lake.write(b_marker, b_body)
        # The completion step, taken again by whichever run ends last.
        assert (await _run(lake, url))[0]
        removed = await read_removed(lake, DATE, "war")
        stored = {r["id"] for r in records(await lake_files(lake, Kind.MOVIES, "war"))}
    assert gone in stored
    assert removed is not None and removed.not_found == () and removed.count == 0
