"""One table for what an S3 or SQS failure means, and one retry rule for both: botocore at
one attempt, ``Backoff`` above it, retries summarised as ``requests_retried``. SQS goes
through a fault-injecting proxy in front of moto's server (real protocol both ways)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from structlog.testing import capture_logs

from ingest.errors import ConfigError, LakeError, RetryableError
from ingest.lake.bucket import S3
from ingest.queue import sqs as sqs_module
from ingest.queue.sqs import SqsQueue
from ingest.remote.aws_errors import NO_CREDENTIALS, Remote, Unsent, aws_error, transient_reason
from ingest.remote.retry import Backoff
from tests.queue_kit import Queues, receive_all
from tests.s3_faults import Fault, FaultyS3, faulty_s3

SQS = Remote("SQS", RetryableError, "fix INGEST_QUEUE_URL")


def _refusal(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("exc", "s3", "sqs"),
    [
        (NoCredentialsError(), ConfigError, ConfigError),
        (_refusal("AccessDenied", 403), ConfigError, ConfigError),
        (_refusal("AWS.SimpleQueueService.NonExistentQueue", 400), ConfigError, ConfigError),
        (_refusal("NoSuchBucket", 404), ConfigError, ConfigError),
        (_refusal("SlowDown", 503), RetryableError, RetryableError),
        (_refusal("ThrottlingException", 400), RetryableError, RetryableError),
        (_refusal("InvalidParameterValue", 400), LakeError, RetryableError),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), RetryableError, RetryableError),
    ],
)
def test_one_table_sorts_both_services_failures(exc: Exception, s3: type, sqs: type) -> None:
    assert type(aws_error(exc, S3, "read k")) is s3
    assert type(aws_error(exc, SQS, "send")) is sqs


def test_the_no_credentials_message_is_one_for_both() -> None:
    assert str(aws_error(NoCredentialsError(), S3, "x")) == str(aws_error(NoCredentialsError(), SQS, "y"))
    assert str(aws_error(NoCredentialsError(), S3, "x")) == NO_CREDENTIALS


def test_refused_batch_entries_are_a_transient_failure() -> None:
    assert transient_reason(Unsent("ThrottlingException")) == "ThrottlingException"
    assert transient_reason(_refusal("AccessDenied", 403)) is None


def _sends(request: web.Request) -> bool:
    return request.headers.get("X-Amz-Target", "").endswith("SendMessageBatch")


def _send_count(seen: list[tuple[str, str, dict[str, str]]]) -> int:
    return sum(1 for _, _, headers in seen if headers.get("x-amz-target", "").endswith("SendMessageBatch"))


def _queue(new_queues: Callable[..., Queues]) -> str:
    return new_queues(max_receives=3, visibility_s=30).url


@asynccontextmanager
async def _sqs_behind(
    fault: Fault, endpoint: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[SqsQueue, FaultyS3, str]]:
    """Queue ``url`` reached through the fault proxy (retries waiting next to nothing)."""
    monkeypatch.setattr(sqs_module, "BACKOFF", Backoff(base_s=0.001, cap_s=0.01))
    async with faulty_s3(endpoint) as proxy:
        proxy.faults.append(fault)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        async with SqsQueue.connect(url) as queue:
            yield queue, proxy, url


async def test_sqs_is_retried_above_botocore_and_summarised(
    aws_env: str, new_queues: Callable[..., Queues], monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = Fault(_sends, 503, "ServiceUnavailable", times=2)
    url = _queue(new_queues)
    with capture_logs() as logs:
        async with _sqs_behind(fault, aws_env, url, monkeypatch) as (queue, proxy, _):
            assert await queue.send(["m0", "m1", "m2"]) == 3
    assert sorted(m["Body"] for m in receive_all(aws_env, url)) == ["m0", "m1", "m2"]
    assert _send_count(proxy.seen) == 3
    retried = [e for e in logs if e["event"] == "requests_retried"]
    assert {e["remote"] for e in retried} == {"sqs"} and sum(e["retries"] for e in retried) == 2


async def test_sqs_gives_up_after_its_attempts_with_one_error(
    aws_env: str, new_queues: Callable[..., Queues], monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = Fault(_sends, 500, "InternalError", times=100)
    async with _sqs_behind(fault, aws_env, _queue(new_queues), monkeypatch) as (
        queue,
        proxy,
        _,
    ):
        with pytest.raises(RetryableError) as caught:
            await queue.send(["m0"])
    assert _send_count(proxy.seen) == sqs_module.ATTEMPTS
    assert str(caught.value).startswith(f"SQS send failed after {sqs_module.ATTEMPTS} attempts")


async def test_a_missing_queue_names_the_setting(new_queues: Callable[..., Queues]) -> None:
    url = _queue(new_queues) + "-absent"
    async with SqsQueue.connect(url) as queue:
        with pytest.raises(ConfigError, match="INGEST_QUEUE_URL"):
            await queue.receive(1, wait_s=1, visibility_s=30)


def _heads_bucket(bucket: str) -> Callable[[web.Request], bool]:
    return lambda r: r.method == "HEAD" and r.path.rstrip("/") == f"/{bucket}"


@pytest.mark.parametrize("slowdowns", [2, 100])
async def test_the_bucket_check_at_start_is_retried_like_every_s3_call(
    aws_env: str, bucket: str, monkeypatch: pytest.MonkeyPatch, slowdowns: int
) -> None:
    """503 SlowDown on the first request of a run is passing weather too: retried by the
    lake's retry rule, and past its attempts, the one error that says they ran out."""
    from ingest.lake import s3
    from ingest.state import open_lake

    monkeypatch.setattr(s3, "BACKOFF", Backoff(base_s=0.001, cap_s=0.01))
    async with faulty_s3(aws_env) as proxy:
        proxy.faults.append(fault := Fault(_heads_bucket(bucket), 503, "SlowDown", times=slowdowns))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        if slowdowns == 2:
            async with open_lake(f"s3://{bucket}") as lake:
                assert lake.url == f"s3://{bucket}"
            assert fault.hits == 2
        else:
            with pytest.raises(RetryableError) as caught:
                async with open_lake(f"s3://{bucket}"):
                    pass
            assert fault.hits == 5
            assert f"checking bucket {bucket} failed after 5 attempts (503)" in str(caught.value)


def _reads_attributes(request: web.Request) -> bool:
    return request.headers.get("X-Amz-Target", "").endswith("GetQueueAttributes")


async def test_the_queue_check_at_start_is_retried_like_every_sqs_call(
    aws_env: str, new_queues: Callable[..., Queues], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.run.checks import check_queue

    monkeypatch.setattr(sqs_module, "BACKOFF", Backoff(base_s=0.001, cap_s=0.01))
    url = _queue(new_queues)
    async with faulty_s3(aws_env) as proxy:
        proxy.faults.append(fault := Fault(_reads_attributes, 503, "ServiceUnavailable", times=2))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        await check_queue(url)
        assert fault.hits == 2


async def test_a_checksum_the_store_refuses_says_so_and_that_a_rerun_will_not_help(
    aws_env: str, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ingest.state import open_lake

    path = tmp_path / "movies.csv"
    path.write_bytes(b"id|name\n1|a\n")
    async with faulty_s3(aws_env) as proxy:
        proxy.faults.append(fault := Fault(lambda r: r.method == "PUT", 400, "BadDigest", times=100))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        async with open_lake(f"s3://{bucket}") as lake:
            with pytest.raises(LakeError) as caught:
                await lake.upload_file("Raw/x/movies.csv", path, sha256="0" * 64)
    said = str(caught.value)
    assert fault.hits == 1, "a refused checksum is not retried"
    assert "BadDigest" in said and "checksum" in said and "a rerun sends the same checksum" in said
