"""``/readyz`` against each broken dependency: the service started in this process on a free
port, against moto's S3 and SQS and the TMDB stand-in over real HTTP. Each case is 503
with the reason while the dependency is broken, ``/healthz`` stays 200 (alive) meanwhile,
and the service turns ready once the dependency is fixed, without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest

from ingest.errors import AuthError, ConfigError, RetryableError
from ingest.queue.counters import QueueCounters
from ingest.reports.counts import RunReport
from ingest.settings.config import Settings, load_settings
from ingest.standin import STANDIN_TOKEN, Catalog, Standin, free_port
from tests.helpers import eventually
from workers.metrics import Metrics
from workers.ready import Readiness
from workers.schedule import Schedule
from workers.service import Service

WAR = 10752


def _settings(
    tmp_path: Path, lake: str, tmdb_url: str, *, queue_url: str | None = None, csv: str = ""
) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[job]\nlake = "{lake}"\ncsv = [{csv}]\ngenres = ["war"]\ncollections = false\n'
        f'[service]\nhost = "127.0.0.1"\nport = {free_port()}\nrecheck_s = 0.2\n'
        f"run_at_start = {'true' if csv else 'false'}\n"
        f"queue = {'true' if queue_url else 'false'}\n"
        + (f'[queue]\nurl = "{queue_url}"\nwait_s = 1\n' if queue_url else "")
    )
    env = {"INGEST_CONFIG": str(config), "TMDB_BASE_URL": tmdb_url, "TMDB_READ_ACCESS_TOKEN": STANDIN_TOKEN}
    return load_settings(env=env)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Callable[[str], Awaitable[tuple[int, Any]]]]:
    """Run the service; yield a GET of one of its paths (status, parsed JSON or text)."""
    svc = Service(settings, Schedule.parse(settings.service.schedule))
    root = f"http://127.0.0.1:{settings.service.port}"
    async with aiohttp.ClientSession() as http, asyncio.TaskGroup() as tg:
        tg.create_task(svc.run())

        async def get(path: str) -> tuple[int, Any]:
            async with http.get(root + path) as resp:
                body = await (resp.text() if path == "/metrics" else resp.json())
                return resp.status, body

        try:
            await eventually(lambda: _answers(get), "the service to answer", every_s=0.05)
            yield get
        finally:
            svc.shutdown("SIGTERM")


async def _answers(get: Callable[[str], Awaitable[tuple[int, Any]]]) -> bool:
    try:
        await get("/healthz")
    except aiohttp.ClientConnectionError:
        return False
    return True


async def _readyz_is(get: Callable[[str], Awaitable[tuple[int, Any]]], status: int, check: str = "") -> Any:
    """Wait until /readyz answers ``status`` (for ``check``, when given); return its body."""
    seen: dict[str, Any] = {}

    async def probe() -> bool:
        code, body = await get("/readyz")
        seen["body"] = body
        return code == status and (not check or body.get("check") == check)

    await eventually(probe, f"/readyz to answer {status} {check}", every_s=0.05)
    return seen["body"]


@pytest.fixture
async def standin() -> AsyncIterator[Standin]:
    fake = Standin(Catalog.synthetic({WAR: 20}, seed=3))
    async with fake.serve():
        yield fake


async def test_a_missing_bucket_is_503_until_the_bucket_exists(
    tmp_path: Path, standin: Standin, new_bucket: Callable[..., str]
) -> None:
    bucket = new_bucket(create=False)
    async with serving(_settings(tmp_path, f"s3://{bucket}", standin.url)) as get:
        body = await _readyz_is(get, 503, "lake")
        assert body["status"] == "not_ready" and f"bucket '{bucket}' does not exist" in body["reason"]
        # Alive all the same: a restart would not create the bucket.
        assert (await get("/healthz"))[0] == 200
        new_bucket(bucket)
        assert (await _readyz_is(get, 200))["checks"] == ["lake", "tmdb"]


async def test_an_unreachable_tmdb_is_503_until_it_answers(tmp_path: Path) -> None:
    port = free_port()
    settings = _settings(tmp_path, str(tmp_path / "lake"), f"http://127.0.0.1:{port}")
    async with serving(settings) as get:
        body = await _readyz_is(get, 503, "tmdb")
        assert "cannot reach TMDB" in body["reason"] and "TMDB_BASE_URL" in body["reason"]
        assert (await get("/healthz"))[0] == 200
        async with Standin(Catalog.synthetic({WAR: 5}, seed=3)).serve(port=port):
            await _readyz_is(get, 200)


async def test_a_refused_token_is_503_until_tmdb_takes_it(tmp_path: Path, standin: Standin) -> None:
    standin.token = "another-token"
    async with serving(_settings(tmp_path, str(tmp_path / "lake"), standin.url)) as get:
        body = await _readyz_is(get, 503, "tmdb")
        assert "TMDB refused the credentials" in body["reason"]
        assert STANDIN_TOKEN not in str(body)
        standin.token = STANDIN_TOKEN
        await _readyz_is(get, 200)


async def test_a_missing_queue_is_503_then_the_idle_worker_says_idle(
    tmp_path: Path, standin: Standin, aws_env: str
) -> None:
    sqs = boto3.client("sqs", endpoint_url=aws_env, region_name="us-east-1")
    name = f"batches-{uuid.uuid4().hex[:8]}"
    url = f"{aws_env}/123456789012/{name}"
    try:
        async with serving(_settings(tmp_path, str(tmp_path / "lake"), standin.url, queue_url=url)) as get:
            body = await _readyz_is(get, 503, "queue")
            assert "NonExistentQueue" in body["reason"] and "INGEST_QUEUE_URL" in body["reason"]
            status, health = await get("/healthz")
            assert status == 200 and health["state"] == "starting" and health["running"] is False
            sqs.create_queue(QueueName=name)
            assert (await _readyz_is(get, 200))["checks"] == ["lake", "tmdb", "queue"]
            # Consuming an empty queue: idle, not a run in progress.
            status, health = await get("/healthz")
            assert health["state"] == "idle" and health["running"] is False
            page = (await get("/metrics"))[1]
            assert "ingest_run_in_progress 0" in page.splitlines()
            assert 'ingest_queue_worker_state{state="idle"} 1' in page.splitlines()
    finally:
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
            sqs.delete_queue(QueueUrl=url)


async def test_a_run_that_failed_on_its_input_makes_the_service_not_ready(
    tmp_path: Path, standin: Standin
) -> None:
    missing = tmp_path / "films.csv"
    settings = _settings(tmp_path, str(tmp_path / "lake"), standin.url, csv=f'"{missing}"')
    async with serving(settings) as get:
        body = await _readyz_is(get, 503, "last_run")
        assert body["error"] == "InputError" and str(missing) in body["reason"]


async def test_a_run_failed_on_a_setting_is_503_until_a_run_succeeds() -> None:
    ready = Readiness([], recheck_s=1)
    stopping = asyncio.Event()
    await ready.watch(stopping)
    assert ready.answer(stopping=False)[0] == 200
    # An outage: a rerun may well succeed, so the service stays ready.
    ready.run_ended(RetryableError("TMDB 503"))
    assert ready.answer(stopping=False)[0] == 200
    ready.run_ended(AuthError("TMDB refused the credentials (401)"))
    status, body = ready.answer(stopping=False)
    assert status == 503 and body["check"] == "last_run" and body["error"] == "AuthError"
    ready.run_ended(ConfigError("bucket 'b' does not exist"))
    assert ready.answer(stopping=False)[1]["error"] == "ConfigError"
    ready.run_ended(None)
    assert ready.answer(stopping=False)[0] == 200
    assert ready.answer(stopping=True) == (
        503,
        {"status": "stopping", "reason": "the service is shutting down"},
    )


def test_a_queue_workers_state_is_its_own() -> None:
    metrics = Metrics(queue_mode=True)
    assert metrics.queue_state == "starting" and not metrics.running
    metrics.queue = counters = QueueCounters()
    metrics.run_started(RunReport())  # the consumer's life, which is not a run in progress
    assert metrics.queue_state == "idle" and not metrics.running
    assert "ingest_run_in_progress 0" in metrics.render().splitlines()
    counters.in_flight = 2
    assert metrics.queue_state == "consuming" and metrics.running
    page = metrics.render().splitlines()
    assert 'ingest_queue_worker_state{state="consuming"} 1' in page
    assert 'ingest_queue_worker_state{state="idle"} 0' in page
    metrics.draining = True
    assert metrics.queue_state == "draining"
    # The scheduled service has no such state.
    assert Metrics().queue_state is None


async def test_healthz_answers_while_a_check_hangs(tmp_path: Path) -> None:
    """The checks run beside the HTTP server: a TMDB that never answers blocks neither."""
    fake = Standin(Catalog.synthetic({WAR: 5}, seed=3), stall_rate=1.0, stall_s=600)
    async with fake.serve() as url, serving(_settings(tmp_path, str(tmp_path / "lake"), url)) as get:
        await eventually(lambda: fake.counters.stalled, "a check to stall")
        status, health = await get("/healthz")
        assert status == 200 and health["status"] == "ok"
        status, body = await get("/readyz")
        assert status == 503 and body["check"] == "starting"
