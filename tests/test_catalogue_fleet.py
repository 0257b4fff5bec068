"""The catalogue on the fleet (moto's server, then LocalStack 4.14.0): ``--catalogue
--collections --enqueue`` plans and sends, three ``python -m workers --queue`` processes
fetch, one of them SIGKILLed mid-batch; every movie and collection lands exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.standin import DAY0, Catalog, Standin, Universe
from ingest.state import open_lake
from ingest.state.catalogue_plan import load_plan
from ingest.state.cursor import read_cursor
from ingest.tmdb.catalogue import missing
from tests.helpers import eventually, kill_once
from tests.queue_kit import Queues, Worker, enqueue, env_for, queue_depth, start_worker, write_config
from tests.tmdb_fixtures import lake_files, records

SIZE = 1500


@pytest.fixture
def aws_endpoint(on_both: str) -> str:
    return on_both


async def _whole(lake: Lake) -> bool:
    for kind in (Kind.MOVIES, Kind.COLLECTIONS):
        plan = await load_plan(lake, DAY0, kind)
        if plan is None or await missing(lake, plan):
            return False
    return True


async def test_three_workers_one_killed_land_the_catalogue_exactly_once(
    tmp_path: Path, aws_env: str, s3_lake_url: str, new_queues: Callable[..., Queues]
) -> None:
    u = Universe(SIZE, seed=9)
    queues = new_queues(max_receives=6, visibility_s=2)
    config = write_config(tmp_path, visibility_s=2)
    # Slow answers: a batch takes long enough to be killed in its middle.
    fake = Standin(Catalog.synthetic({}, seed=1), universe=u, latency_s=0.03)
    async with fake.serve() as url, open_lake(s3_lake_url) as lake:
        env = env_for(url, s3_lake_url, queues.url) | {"TMDB_EXPORTS_URL": f"{url}/p/exports"}
        args = ("--catalogue", "--collections")
        rc, err = await enqueue(env, tmp_path, *args, "--date", DAY0.isoformat())
        assert rc == 0, err[-2000:]
        movies = await load_plan(lake, DAY0, Kind.MOVIES)
        colls = await load_plan(lake, DAY0, Kind.COLLECTIONS)
        assert movies is not None and colls is not None
        assert queue_depth(aws_env, queues.url) == movies.batch_count + colls.batch_count
        # The first of the three starts alone, so it is the one holding batches when killed.
        victim = await start_worker(env, tmp_path, config, 0)
        workers: list[Worker] = [victim]
        try:

            def holding_a_batch() -> bool:
                in_flight = victim.metrics()["ingest_queue_batches_in_flight"]
                return in_flight >= 1 and fake.counters.requests["movie"] >= 50

            await kill_once(victim.proc, holding_a_batch, "the first worker holding a batch")
            fake.latency_s = 0.0  # slow only so that the kill lands mid-batch
            workers += [await start_worker(env, tmp_path, config, n) for n in (1, 2)]

            async def finished() -> bool:
                for w in workers[1:]:
                    assert w.proc.returncode is None, w.log.read_text()[-3000:]
                return await _whole(lake) and queue_depth(aws_env, queues.url) == 0

            await eventually(finished, "the workers to finish", within_s=300, every_s=0.1)
            metrics = [w.metrics() for w in workers[1:]]
        finally:
            if victim.proc.returncode is None:
                victim.proc.kill()
                await victim.proc.wait()
            codes = [await w.terminate() for w in workers[1:]]
        assert codes == [0, 0]
        ids = [r["id"] for r in records(await lake_files(lake, Kind.MOVIES, "catalogue", DAY0))]
        wanted = {i for i in u.candidates(0) if u.alive(i, 0) and not u.adult(i)}
        assert Counter(ids) == Counter(wanted)
        cids = [r["id"] for r in records(await lake_files(lake, Kind.COLLECTIONS, "catalogue", DAY0))]
        assert Counter(cids) == Counter(u.collections())
        # The fleet's day is a complete snapshot, as a one-shot run's: the next day diffs against it.
        cursor = await read_cursor(lake, Kind.MOVIES, "catalogue")
        assert cursor is not None and (cursor.date, cursor.plan_id) == (DAY0, movies.plan_id)
    # The killed worker's batch came back to another worker.
    assert sum(m['ingest_queue_batches_total{state="redelivered"}'] for m in metrics) >= 1
