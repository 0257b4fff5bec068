"""Shared fixtures: a real S3 endpoint (moto's server mode, over HTTP) and lakes on it.

Each test gets its own bucket, so tests never see each other's objects.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import boto3
import pytest
import structlog
from moto.server import ThreadedMotoServer

from tests.helpers import clean_env
from tests.queue_kit import Queues, make_queues

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """In-process entry points configure logging for the process; undo it after each test."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on a random loopback port, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def localstack_endpoint() -> Iterator[str]:
    """LocalStack 4.14.0 (S3, SQS, STS) from its own virtualenv (``scripts/localstack.py``,
    set up by ``dev.py test``), for the whole session; skipped, saying why, where it cannot run."""
    from scripts.localstack import LocalStackUnavailable, serve

    try:
        with serve() as endpoint:
            yield endpoint
    except LocalStackUnavailable as exc:
        pytest.skip(f"LocalStack unavailable: {exc}")


@pytest.fixture
def aws_endpoint(moto_endpoint: str) -> str:
    """The AWS endpoint a test runs against: moto; a module may override it (``on_both``)."""
    return moto_endpoint


@pytest.fixture(params=["moto", "localstack"])
def on_both(request: pytest.FixtureRequest) -> str:
    """moto's server, then LocalStack: a module sets ``aws_endpoint = on_both`` to run both."""
    return str(request.getfixturevalue(f"{request.param}_endpoint"))


@pytest.fixture
def aws_env(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the AWS SDK (in this process and in subprocesses) at the test's endpoint."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    return aws_endpoint


@pytest.fixture
def s3(aws_env: str):  # type: ignore[no-untyped-def]
    """A plain boto3 client on the moto server, for reading back what the pipeline wrote."""
    return boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")


@pytest.fixture
def new_bucket(s3) -> Iterator[Callable[..., str]]:  # type: ignore[no-untyped-def]
    """``new_bucket(name=None, create=True)``: a bucket's name (a fresh one unless given),
    made unless ``create=False``; every bucket named is deleted after the test, with what
    it holds (objects, open uploads), whoever made it."""
    named: list[str] = []

    def make(name: str | None = None, *, create: bool = True) -> str:
        named.append(name or f"lake-{uuid.uuid4().hex[:12]}")
        if create:
            s3.create_bucket(Bucket=named[-1])
        return named[-1]

    yield make
    for name in named:
        _delete_bucket(s3, name)


def _delete_bucket(s3, name: str) -> None:  # type: ignore[no-untyped-def]
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            if keys := [{"Key": o["Key"]} for o in page.get("Contents", [])]:
                s3.delete_objects(Bucket=name, Delete={"Objects": keys})
        for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        s3.delete_bucket(Bucket=name)
    except s3.exceptions.NoSuchBucket:
        pass  # never made, or the test removed it itself


@pytest.fixture
def bucket(new_bucket: Callable[..., str]) -> str:
    """A fresh bucket, deleted after the test."""
    return new_bucket()


@pytest.fixture
def new_queues(aws_env: str) -> Iterator[Callable[..., Queues]]:
    """``new_queues(max_receives=N, visibility_s=S)``: a queue and its dead-letter queue on
    the test's endpoint; every queue made is deleted after the test."""
    made: list[Queues] = []

    def make(*, max_receives: int, visibility_s: int) -> Queues:
        made.append(make_queues(aws_env, max_receives=max_receives, visibility_s=visibility_s))
        return made[-1]

    yield make
    sqs = boto3.client("sqs", endpoint_url=aws_env, region_name="us-east-1")
    for url in (u for q in made for u in (q.url, q.dead_letter_url)):
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
            sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def s3_lake_url(bucket: str) -> str:
    return f"s3://{bucket}"


@pytest.fixture
def subprocess_env(aws_env: str) -> dict[str, str]:
    """The environment for ``python -m ingest`` as a real process: this one's (the test's
    AWS endpoint included) without TMDB_/INGEST_ settings or secrets."""
    return clean_env()


@pytest.fixture
async def s3_lake(s3_lake_url: str) -> AsyncIterator[object]:
    from ingest.state import open_lake

    async with open_lake(s3_lake_url) as lake:
        yield lake
