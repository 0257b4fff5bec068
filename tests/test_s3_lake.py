"""The S3 lake's one retry layer, its clean-up of uploads a killed run left open, and the
errors a user sees: through real S3 protocol (moto's server, behind the fault proxy)."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from awscrt.checksums import crc64nvme
from structlog.testing import capture_logs

from ingest.csv.scan import KNOWN_HEADERS
from ingest.errors import InputError, RetryableError
from ingest.lake import Lake, UploadTuning
from ingest.lake import s3 as s3_module
from ingest.remote.retry import Backoff
from ingest.standin import free_port
from ingest.state import open_lake
from tests.helpers import run_cli
from tests.s3_faults import Fault, faulty_s3, is_part

MIB = 1024 * 1024
KEY = "Raw/Local/CSV/Movies/2026/11/28/movies.csv"
ROW = "tt0000001|Cidade de Deus|Cidade de Deus|2002|130|Crime|8.6|800000|M|Zé|Zé Pequeno|1980|\\N|actor|tt1\n"
# A bound on how long to wait for the process, not a measurement.
PROMPTLY_S = 30


def _csv(path: Path, size: int) -> Path:
    head = ("|".join(KNOWN_HEADERS["movies"]) + "\n").encode()
    row = ROW.encode()
    path.write_bytes(head + row * (size // len(row) + 1))
    return path


@pytest.fixture
def aws_endpoint(on_both: str) -> str:
    """Every test here runs on moto's server and on LocalStack 4.14.0."""
    return on_both


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_module, "BACKOFF", Backoff(base_s=0.001, cap_s=0.01))


def _part_requests(seen: list[tuple[str, str, dict[str, str]]], number: int) -> int:
    return sum(1 for m, q, _ in seen if m == "PUT" and f"partNumber={number}&" in q + "&")


@pytest.mark.usefixtures("fast_backoff")
async def test_a_part_that_keeps_failing_is_sent_max_attempts_times(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _csv(tmp_path / "movies.csv", 11 * MIB)
    tuning = UploadTuning(part_size=5 * MIB, parts_in_flight=1, max_attempts=5)
    async with faulty_s3(aws_env) as proxy:
        proxy.faults.append(Fault(is_part(2), 503, "SlowDown", times=1000))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        with capture_logs() as logs:
            async with open_lake(f"s3://{bucket}", tuning) as lake:
                with pytest.raises(RetryableError) as caught:
                    await lake.upload_file(KEY, src, sha256="0" * 64)
    # One retry layer: exactly the configured budget went over the wire, not 5 x 3.
    assert _part_requests(proxy.seen, 2) == proxy.faults[0].hits == 5
    message = str(caught.value)
    assert message.endswith("failed after 5 attempts (SlowDown)") and "will retry" not in message
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    summaries = [e for e in logs if e["event"] == "requests_retried"]
    assert sum(e["retries"] for e in summaries) == 4 and summaries[0]["remote"] == "s3"


async def test_an_upload_a_killed_run_left_open_is_aborted_first(
    tmp_path: Path, s3: Any, bucket: str, s3_lake_url: str
) -> None:
    src = _csv(tmp_path / "movies.csv", 6 * MIB)
    stale = s3.create_multipart_upload(Bucket=bucket, Key=KEY)["UploadId"]
    # Another key that merely starts with the same characters is not ours to abort.
    neighbour = s3.create_multipart_upload(Bucket=bucket, Key=KEY + ".bak")["UploadId"]
    tuning = UploadTuning(part_size=5 * MIB, parts_in_flight=2)
    with capture_logs() as logs:
        async with open_lake(s3_lake_url, tuning) as lake:
            await lake.upload_file(KEY, src, sha256="0" * 64)
    left = {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}
    assert stale not in left and left == {neighbour}
    aborted = [e for e in logs if e["event"] == "stale_uploads_aborted"]
    assert [(e["key"], e["count"]) for e in aborted] == [(KEY, 1)]
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == src.read_bytes()


async def test_each_part_carries_its_crc64nvme_and_no_payload_hash(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _csv(tmp_path / "movies.csv", 11 * MIB)
    data = src.read_bytes()
    tuning = UploadTuning(part_size=5 * MIB, parts_in_flight=2)
    async with faulty_s3(aws_env) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        async with open_lake(f"s3://{bucket}", tuning) as lake:
            await lake.upload_file(KEY, src, sha256="0" * 64)
    parts = {
        int(q.split("partNumber=")[1].split("&")[0]): h
        for m, q, h in proxy.seen
        if m == "PUT" and "partNumber=" in q
    }
    assert sorted(parts) == [1, 2, 3]
    for number, headers in parts.items():
        chunk = data[(number - 1) * 5 * MIB : number * 5 * MIB]
        expected = base64.b64encode(crc64nvme(chunk).to_bytes(8, "big")).decode()
        # The CRC64NVME the server checks is the part's own, computed once by the reader;
        # the SigV4 signature does not hash the payload a second time (http endpoint).
        assert headers["x-amz-checksum-crc64nvme"] == expected
        assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == data


async def test_a_file_touched_during_the_upload_does_not_replace_the_object(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _csv(tmp_path / "movies.csv", 11 * MIB)
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"what an earlier run stored")

    def touch_on_part_2(request: web.Request) -> bool:
        if request.method == "PUT" and request.query.get("partNumber") == "2":
            st = src.stat()
            os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        return False

    tuning = UploadTuning(part_size=5 * MIB, parts_in_flight=1)
    async with faulty_s3(aws_env) as proxy:
        proxy.faults.append(Fault(touch_on_part_2, 500, "unused"))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        async with open_lake(f"s3://{bucket}", tuning) as lake:
            with pytest.raises(InputError, match="changed while it was being ingested"):
                await lake.upload_file(KEY, src, sha256="0" * 64)
    # Every part went up, but the upload was aborted instead of completed.
    assert _part_requests(proxy.seen, 3) == 1
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == b"what an earlier run stored"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


async def test_a_small_file_changed_since_it_was_hashed_is_not_put(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str
) -> None:
    # One PUT (the file fits one part) is held to the same rule as a multipart upload: the
    # file must still be what was hashed, here a second older than it is now.
    src = _csv(tmp_path / "movies.csv", MIB)
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"what an earlier run stored")
    st = src.stat()
    hashed = (st.st_size, st.st_mtime_ns - 1_000_000_000)
    async with open_lake(f"s3://{bucket}") as lake:
        with pytest.raises(InputError, match="changed while it was being ingested"):
            await lake.upload_file(KEY, src, sha256="0" * 64, source=hashed)
        await lake.upload_file(KEY, src, sha256="1" * 64, source=(st.st_size, st.st_mtime_ns))
    stored = s3.get_object(Bucket=bucket, Key=KEY)
    assert stored["Body"].read() == src.read_bytes() and stored["Metadata"]["sha256"] == "1" * 64


async def _ingest(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    done = await run_cli("--date", "2026-11-28", *args, cwd=tmp_path, env=env, timeout_s=PROMPTLY_S)
    return done.returncode, done.stderr


async def test_an_s3_endpoint_that_cannot_be_reached_is_a_setting(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    env = {**subprocess_env, "AWS_ENDPOINT_URL": endpoint}
    src = _csv(tmp_path / "movies.csv", 1000)
    rc, err = await _ingest(tmp_path, env, "--csv", str(src), "--lake", "s3://some-bucket")
    assert rc == 2, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert f"cannot reach S3 at {endpoint}" in last and "AWS_ENDPOINT_URL" in last
    assert "Traceback" not in err and "testing" not in last


async def test_a_file_that_shrinks_while_uploading_is_an_input_error(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, subprocess_env: dict[str, str]
) -> None:
    src = _csv(tmp_path / "movies.csv", 16 * MIB)
    config = tmp_path / "config.toml"
    config.write_text("[upload]\npart_size_mib = 5\nparts_in_flight = 1\n")

    def shrink_on_first_part(request: web.Request) -> bool:
        if request.method == "PUT" and request.query.get("partNumber") == "1":
            with src.open("r+b") as fh:
                fh.truncate(7 * MIB)
        return False

    async with faulty_s3(aws_env) as proxy:
        proxy.faults.append(Fault(shrink_on_first_part, 500, "unused"))
        env = {**subprocess_env, "AWS_ENDPOINT_URL": proxy.url}
        rc, err = await _ingest(
            tmp_path, env, "--csv", str(src), "--lake", f"s3://{bucket}", "--config", str(config)
        )
    assert rc == 2, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert "changed while it was being ingested: rerun once it is complete" in last
    assert str(src) in last and "unexpected error" not in err and "Traceback" not in err
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="Raw/")


async def test_create_is_won_by_exactly_one_of_many_writers(s3_lake: Lake) -> None:
    # If-None-Match: * (412 PreconditionFailed for the losers), honoured by moto and LocalStack.
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(s3_lake.create("_ingest/x/plan.json", b"%d" % i)) for i in range(8)]
    results = [t.result() for t in tasks]
    assert sum(results) == 1
    assert await s3_lake.read("_ingest/x/plan.json") == b"%d" % results.index(True)
    assert not await s3_lake.create("_ingest/x/plan.json", b"again")
