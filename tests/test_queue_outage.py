"""A queue worker whose TMDB token is revoked while it consumes stays up and not ready,
stops receiving, gives back what it holds at once (no receive count burnt towards the
dead-letter queue while the outage lasts), and finishes the day once the token is back:
the service started in this process, over real HTTP to the TMDB stand-in and moto's SQS."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from ingest.standin import STANDIN_TOKEN, Catalog, Standin, free_port
from tests.helpers import cli_env, eventually, run_cli
from tests.queue_kit import Queues, enqueue, env_for, queue_depth
from tests.s3_faults import Fault, faulty_s3
from tests.test_readiness import _readyz_is, _settings, serving
from tests.tmdb_fixtures import DATE

WAR, CRIME = 10752, 80


async def test_a_revoked_token_pauses_the_worker_and_it_finishes_the_day_once_back(
    tmp_path: Path, aws_env: str, new_queues: Callable[..., Queues]
) -> None:
    queues = new_queues(max_receives=2, visibility_s=30)
    lake = str(tmp_path / "lake")
    standin = Standin(Catalog.synthetic({WAR: 250}, seed=7))
    async with standin.serve():
        settings = _settings(tmp_path, lake, standin.url, queue_url=queues.url)
        async with serving(settings) as get:
            await _readyz_is(get, 200)
            # The token the worker holds is revoked: TMDB now takes another one, which the
            # planning run uses to send the day's three batches.
            standin.token = "a-new-token"
            env = env_for(standin.url, lake, queues.url) | {"TMDB_READ_ACCESS_TOKEN": "a-new-token"}
            rc, err = await enqueue(env, tmp_path, "--genre", "war")
            assert rc == 0, err[-2000:]

            body = await _readyz_is(get, 503, "tmdb")
            assert "TMDB refused the credentials" in body["reason"]
            health = (await get("/healthz"))[1]
            assert health["state"] == "paused"

            async def all_given_back() -> bool:
                page = (await get("/metrics"))[1]
                return 'ingest_queue_batches_total{state="given_back"} 3' in page.splitlines()

            await eventually(all_given_back, "the three batches given back")
            page = (await get("/metrics"))[1].splitlines()
            assert 'ingest_queue_batches_total{state="failed"} 0' in page
            # Given back at visibility 0: on the queue and visible now, not in 30 s.
            sqs = boto3.client("sqs", endpoint_url=aws_env, region_name="us-east-1")
            attrs = sqs.get_queue_attributes(
                QueueUrl=queues.url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            assert int(attrs["ApproximateNumberOfMessages"]) == 3

            standin.token = STANDIN_TOKEN
            await _readyz_is(get, 200)
            await eventually(lambda: _done(get, 3), "the three batches done")
            assert queue_depth(aws_env, queues.url) == 0
            assert queue_depth(aws_env, queues.dead_letter_url) == 0
            page = (await get("/metrics"))[1].splitlines()
            assert 'ingest_queue_batches_total{state="dead_lettered"} 0' in page
        done = await run_cli("status", "--lake", lake, "--date", DATE.isoformat(), cwd=tmp_path)
        assert done.returncode == 0, done.stdout


async def test_dead_lettered_batches_are_counted_by_status_and_its_hints_finish_the_day(
    tmp_path: Path, aws_env: str, new_queues: Callable[..., Queues]
) -> None:
    """Three batches in the dead-letter queue: status counts them and names the redrive;
    once they are back (what the redrive does), the printed workers command finishes it."""
    queues = new_queues(max_receives=2, visibility_s=30)
    lake = str(tmp_path / "lake")
    standin = Standin(Catalog.synthetic({WAR: 250}, seed=7))
    sqs = boto3.client("sqs", endpoint_url=aws_env, region_name="us-east-1")
    async with standin.serve():
        env = env_for(standin.url, lake, queues.url)
        rc, err = await enqueue(env, tmp_path, "--genre", "war")
        assert rc == 0, err[-2000:]
        for queue_from, queue_to in (
            (queues.url, queues.dead_letter_url),
            (queues.dead_letter_url, queues.url),
        ):
            moved = 0
            if queue_from == queues.dead_letter_url:
                body = await _status_json(tmp_path, lake, env)
                assert body["queue"]["dead_lettered"] == 3 and body["queue"]["waiting"] == 0
                arn = body["queue"]["dead_letter_arn"]
                assert arn.endswith(":" + queues.dead_letter_url.rsplit("/", 1)[-1])
                assert "3 messages on the dead-letter queue" in body["hint"]
                assert f"aws sqs start-message-move-task --source-arn {arn}" in body["hint"]
            while got := sqs.receive_message(QueueUrl=queue_from, MaxNumberOfMessages=10).get("Messages"):
                for m in got:
                    sqs.send_message(QueueUrl=queue_to, MessageBody=m["Body"])
                    sqs.delete_message(QueueUrl=queue_from, ReceiptHandle=m["ReceiptHandle"])
                    moved += 1
            assert moved == 3

        body = await _status_json(tmp_path, lake, env)
        said = body["hint"]
        workers = said[said.index("start queue workers (") + len("start queue workers (") :].split(")")[0]
        assert workers.endswith(" -m workers --queue"), said
        proc = await asyncio.create_subprocess_exec(
            "sh", "-c", workers, cwd=tmp_path, env=cli_env(env | {"INGEST_PORT": str(free_port())}),
            start_new_session=True, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:

            async def finished() -> bool:
                done = await run_cli("status", "--date", DATE.isoformat(), cwd=tmp_path, env=env)
                return done.returncode == 0

            await eventually(finished, "status to say the day is complete", every_s=0.5)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            await proc.wait()


async def _status_json(cwd: Path, lake: str, env: dict[str, str]) -> dict[str, Any]:
    done = await run_cli("status", "--lake", lake, "--date", DATE.isoformat(), "--json", cwd=cwd, env=env)
    assert done.returncode == 1, done.stderr
    body: dict[str, Any] = orjson.loads(done.stdout)
    return body


async def test_a_lake_refused_mid_day_pauses_the_worker_and_it_resumes_once_allowed(
    tmp_path: Path,
    aws_env: str,
    bucket: str,
    new_queues: Callable[..., Queues],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lake's credentials lose access mid-day (every write and the bucket refused, 403)
    and get it back: the worker pauses, gives back, and finishes the day without a restart."""
    queues = new_queues(max_receives=2, visibility_s=30)
    lake = f"s3://{bucket}"
    standin = Standin(Catalog.synthetic({WAR: 250}, seed=7))
    async with standin.serve(), faulty_s3(aws_env) as proxy:
        rc, err = await enqueue(env_for(standin.url, lake, queues.url), tmp_path, "--genre", "war")
        assert rc == 0, err[-2000:]
        writes = Fault(
            lambda r: r.method == "PUT" and r.path.startswith(f"/{bucket}/Raw/"), 403, "AccessDenied", 10**6
        )
        # The bucket itself is refused from the first refused write on: access was taken away.
        heads = Fault(
            lambda r: writes.hits > 0 and r.method == "HEAD" and r.path.rstrip("/") == f"/{bucket}",
            403,
            "AccessDenied",
            10**6,
        )
        proxy.faults += [writes, heads]
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        settings = _settings(tmp_path, lake, standin.url, queue_url=queues.url)
        async with serving(settings) as get:
            body = await _readyz_is(get, 503, "lake")
            assert f"access to bucket '{bucket}' is denied" in body["reason"]
            assert (await get("/healthz"))[1]["state"] == "paused"

            async def given_back() -> bool:
                page = (await get("/metrics"))[1].splitlines()
                return 'ingest_queue_batches_total{state="given_back"} 0' not in page

            await eventually(given_back, "a batch given back")
            assert 'ingest_queue_batches_total{state="failed"} 0' in (await get("/metrics"))[1].splitlines()

            writes.times, heads.times = writes.hits, heads.hits
            await _readyz_is(get, 200)
            await eventually(lambda: _done(get, 3), "the three batches done")
            assert queue_depth(aws_env, queues.url) == 0
            assert queue_depth(aws_env, queues.dead_letter_url) == 0
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    done = await run_cli("status", "--lake", lake, "--date", DATE.isoformat(), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


async def _done(get: Callable[[str], Awaitable[tuple[int, Any]]], batches: int) -> bool:
    page = (await get("/metrics"))[1].splitlines()
    return f'ingest_queue_batches_total{{state="done"}} {batches}' in page


async def test_a_queue_deleted_mid_day_pauses_the_worker_until_it_is_back(
    tmp_path: Path, aws_env: str
) -> None:
    """A receive refused for good (the queue is gone) pauses the worker, not ready, alive;
    the queue made again, it consumes again."""
    sqs = boto3.client("sqs", endpoint_url=aws_env, region_name="us-east-1")
    name = f"batches-{os.urandom(4).hex()}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    try:
        async with Standin(Catalog.synthetic({WAR: 5}, seed=1)).serve() as tmdb:
            settings = _settings(tmp_path, str(tmp_path / "lake"), tmdb, queue_url=url)
            async with serving(settings) as get:
                await _readyz_is(get, 200)
                await eventually(lambda: _state_is(get, "idle"), "the worker to consume")
                sqs.delete_queue(QueueUrl=url)
                body = await _readyz_is(get, 503, "queue")
                assert "INGEST_QUEUE_URL" in body["reason"]
                status, health = await get("/healthz")
                assert status == 200 and health["state"] == "paused"
                sqs.create_queue(QueueName=name)
                await _readyz_is(get, 200)
                await eventually(lambda: _state_is(get, "idle"), "the worker to consume again")
    finally:
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
            sqs.delete_queue(QueueUrl=url)


async def _state_is(get: Callable[[str], Awaitable[tuple[int, Any]]], state: str) -> bool:
    return bool((await get("/healthz"))[1].get("state") == state)


async def test_a_tmdb_that_stops_answering_pauses_the_worker_until_it_answers(
    tmp_path: Path, aws_env: str, new_queues: Callable[..., Queues]
) -> None:
    """TMDB goes down after the worker has had answers (its client's breaker opens): the
    worker pauses instead of exiting, and finishes the day once TMDB is back."""
    queues = new_queues(max_receives=2, visibility_s=30)
    lake = str(tmp_path / "lake")
    catalog = Catalog.synthetic({WAR: 120, CRIME: 60}, seed=7)
    planner, port = Standin(catalog), free_port()
    async with planner.serve():
        env = env_for(planner.url, lake, queues.url)
        rc, err = await enqueue(env, tmp_path, "--genre", "war")
        assert rc == 0, err[-2000:]
        settings = _settings(tmp_path, lake, f"http://127.0.0.1:{port}", queue_url=queues.url)
        async with serving(settings) as get:
            async with Standin(catalog).serve(port=port):
                await eventually(lambda: _done(get, 2), "war's two batches done")
            # TMDB is down now; the day's crime batch comes.
            rc, err = await enqueue(env, tmp_path, "--genre", "crime")
            assert rc == 0, err[-2000:]
            body = await _readyz_is(get, 503, "tmdb")
            assert "cannot reach TMDB" in body["reason"]
            assert (await get("/healthz"))[1]["state"] == "paused"
            async with Standin(catalog).serve(port=port):
                await _readyz_is(get, 200)
                await eventually(lambda: _done(get, 3), "crime's batch done")
            assert queue_depth(aws_env, queues.dead_letter_url) == 0
    done = await run_cli("status", "--lake", lake, "--date", DATE.isoformat(), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
