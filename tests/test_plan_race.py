"""Plan creation is arbitrated by the lake: a conditional create (``If-None-Match: *`` on S3,
``link(2)`` in a directory). Two one-shot runs for the same genre and date started together
both finish, with one plan and every movie once, on a directory lake and on S3 (moto)."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path

import orjson
import pytest

from ingest.lake.keys import Kind
from ingest.standin import Catalog, Standin
from ingest.state import open_lake
from ingest.state.plan import load_plan
from tests.helpers import run_cli, standin_env
from tests.tmdb_fixtures import DATE, lake_files, records

WAR = 10752
# Rounds until two runs really race (one adopts the other's plan), at the most.
ROUNDS = 10


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({WAR: 120}, seed=5)


async def test_create_is_won_by_exactly_one_of_many(tmp_path: Path) -> None:
    async with open_lake(str(tmp_path / "lake")) as lake:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(lake.create("_ingest/x/plan.json", b"%d" % i)) for i in range(8)]
        results = [t.result() for t in tasks]
        assert sum(results) == 1
        assert await lake.read("_ingest/x/plan.json") == b"%d" % results.index(True)
        assert await lake.list("_ingest/x/") == ["_ingest/x/plan.json"]


async def _run(lake: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    args = ("--genre", "war", "--collections", "--lake", lake, "--date", DATE.isoformat(), "--rate", "1000")
    done = await run_cli(*args, cwd=cwd, env=env)
    return done.returncode, done.stderr


async def _check_one_plan(lake_url: str, catalog: Catalog) -> None:
    async with open_lake(lake_url) as lake:
        plan = await load_plan(lake, DATE, Kind.MOVIES, "war")
        assert plan is not None
        markers = await lake.list(f"_ingest/{DATE:%Y/%m/%d}/tmdb/movies-war/done/")
        # Every marker was written for the one plan in the lake: nobody fetched for another.
        assert markers and all(m.endswith(f"-{plan.plan_id}.done") for m in markers)
        ids = [r["id"] for r in records(await lake_files(lake, Kind.MOVIES, "war"))]
        assert Counter(ids) == Counter(catalog.genre_ids(WAR))
        collections = [r["id"] for r in records(await lake_files(lake, Kind.COLLECTIONS, "war"))]
        assert Counter(collections) == Counter(catalog.collection_ids(catalog.genre_ids(WAR)))


@pytest.mark.parametrize("home", ["directory", "s3"])
async def test_two_runs_started_together_share_one_plan(
    tmp_path: Path, catalog: Catalog, home: str, request: pytest.FixtureRequest
) -> None:
    # Latency on every answer: both runs are still discovering when the first one plans.
    fake = Standin(catalog, latency_s=0.01)
    adopted = 0
    async with fake.serve() as url:
        env = standin_env(url)
        for n in range(ROUNDS):
            if home == "s3":
                lake = f"s3://{request.getfixturevalue('new_bucket')()}"
                env |= {k: os.environ[k] for k in os.environ if k.startswith("AWS_")}
            else:
                lake = str(tmp_path / f"lake-{n}")
            async with asyncio.TaskGroup() as tg:
                first = tg.create_task(_run(lake, env, tmp_path))
                second = tg.create_task(_run(lake, env, tmp_path))
            (a, err_a), (b, err_b) = first.result(), second.result()
            assert (a, b) == (0, 0), (err_a + err_b)[-3000:]
            adopted += sum(_events(err, "plan_adopted") for err in (err_a, err_b))
            await _check_one_plan(lake, catalog)
            if adopted:
                break  # a round that raced is what the rounds are for: further ones repeat it
    # The race was real: in a round a run found the other's plan when it came to freeze its own.
    assert adopted >= 1


def _events(err: str, name: str) -> int:
    count = 0
    for line in err.splitlines():
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        count += isinstance(event, dict) and event.get("event") == name
    return count
