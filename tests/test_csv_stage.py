"""Stage 1 against a real S3 endpoint (moto's server mode over HTTP) and a local directory."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from awscrt.checksums import crc64nvme

from ingest.errors import ConfigError
from ingest.lake.keys import csv_key
from ingest.lake.s3 import part_size_for
from ingest.run.job import run_job
from ingest.settings.config import Settings, load_settings
from tests.helpers import flags, run_cli
from tests.s3_faults import Fault, faulty_s3, is_part

ROOT = Path(__file__).resolve().parents[1]
DATE = "2026-11-28"
KEY = "Raw/Local/CSV/Movies/2026/11/28/movies.csv"
MANIFEST = "_ingest/2026/11/28/csv/movies.csv.manifest.json"
MIB = 1024 * 1024


def make_csv(path: Path, min_bytes: int, *, source: Path = ROOT / "data" / "movies.csv") -> Path:
    """A real-schema CSV of at least ``min_bytes``, built by repeating the sample's rows."""
    header, _, rows = source.read_bytes().partition(b"\n")
    body = bytearray(header + b"\n")
    while len(body) < min_bytes:
        body += rows
    path.write_bytes(bytes(body))
    return path


def settings_for(tmp_path: Path, lake: str, *files: Path, part_mib: int = 5) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(f"[upload]\npart_size_mib = {part_mib}\nparts_in_flight = 3\n")
    return load_settings(flags(config=config, lake=lake, date=DATE, csv=tuple(str(f) for f in files)))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def crc64(data: bytes) -> str:
    return base64.b64encode(crc64nvme(data).to_bytes(8, "big")).decode()


def refuses_full_object(request: web.Request) -> bool:
    """A create asking for a full-object checksum: what an older S3 server refuses."""
    return (
        request.method == "POST" and "uploads" in request.query and "x-amz-checksum-type" in request.headers
    )


async def test_a_server_refusing_a_full_object_checksum_gets_the_sha256_instead(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = make_csv(tmp_path / "movies.csv", 12 * MIB)
    two = make_csv(tmp_path / "series.csv", 7 * MIB, source=ROOT / "data" / "series.csv")
    async with faulty_s3(aws_env) as proxy:
        proxy.faults.append(Fault(refuses_full_object, 400, "InvalidRequest", times=99))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        report = await run_job(settings_for(tmp_path, f"s3://{bucket}", one, two))
        # Asked once: the second file goes straight to the fallback.
        assert proxy.faults[0].hits == 1
        creates = [h for m, q, h in proxy.seen if m == "POST" and q.startswith("uploads")]
        parts = [h for m, q, h in proxy.seen if m == "PUT" and "partNumber=" in q]
        # A rerun against the same server finds both by their SHA-256 and skips them.
        rerun = await run_job(settings_for(tmp_path, f"s3://{bucket}", one, two))
    assert [h.get("x-amz-checksum-algorithm") for h in creates] == ["CRC64NVME", "CRC32", "CRC32"]
    assert parts and all("x-amz-checksum-crc32" in h for h in parts)
    for src, key in ((one, KEY), (two, csv_key("series.csv", dt.date(2026, 11, 28)))):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["Metadata"]["sha256"] == sha(src.read_bytes())
        assert head["ContentType"] == "text/csv; charset=utf-8"
    assert [r.action for r in report.csv] == ["uploaded", "uploaded"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert [r.action for r in rerun.csv] == ["skipped", "skipped"]


async def test_multipart_upload_lands_byte_identical(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_csv(tmp_path / "movies.csv", 12 * MIB)
    async with faulty_s3(aws_env) as proxy:  # no faults: only to watch the protocol
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        report = await run_job(settings_for(tmp_path, f"s3://{bucket}", src))

    body = s3.get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert body == src.read_bytes()
    head = s3.head_object(Bucket=bucket, Key=KEY, ChecksumMode="ENABLED")
    # S3's own full-object CRC64NVME is the object's record; no SHA-256 metadata needed.
    assert head["ChecksumCRC64NVME"] == crc64(body)
    assert head["ChecksumType"] == "FULL_OBJECT"
    assert head["ContentType"] == "text/csv; charset=utf-8"
    assert head["ETag"].strip('"').endswith("-3")  # three 5 MiB parts
    # Checksums are consistent: CRC64NVME, full object, declared at create, each part's
    # own sent with it, the whole file's sent with the completion.
    creates = [h for m, q, h in proxy.seen if m == "POST" and q.startswith("uploads")]
    parts = [h for m, q, h in proxy.seen if m == "PUT" and "partNumber=" in q]
    completes = [h for m, q, h in proxy.seen if m == "POST" and q.startswith("uploadId")]
    assert [(h.get("x-amz-checksum-algorithm"), h.get("x-amz-checksum-type")) for h in creates] == [
        ("CRC64NVME", "FULL_OBJECT")
    ]
    assert sorted(h["x-amz-checksum-crc64nvme"] for h in parts) == sorted(
        crc64(body[i : i + 5 * MIB]) for i in range(0, len(body), 5 * MIB)
    )
    assert [h.get("x-amz-checksum-crc64nvme") for h in completes] == [crc64(body)]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=MANIFEST)["Body"].read())
    # Recorded by S3's checksum, the file is read once by the upload and once by the scan:
    # no SHA-256 is taken for it.
    assert (manifest["crc64nvme"], manifest["sha256"]) == (crc64(body), None)
    assert (report.csv[0].crc64nvme, report.csv[0].sha256) == (crc64(body), "")
    assert report.csv[0].action == "uploaded"
    assert report.csv[0].rows == src.read_bytes().count(b"\n") - 1
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


async def test_a_run_opens_one_s3_client_and_checks_the_bucket_once(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The start-up check's lake is the run's: one client (one service model loaded, one
    # connection pool), one HeadBucket, not two.
    src = make_csv(tmp_path / "movies.csv", 6 * MIB)
    async with faulty_s3(aws_env) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        report = await run_job(settings_for(tmp_path, f"s3://{bucket}", src))
    assert report.complete and report.csv[0].action == "uploaded"
    assert proxy.paths.count(("HEAD", f"/{bucket}")) == 1
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == src.read_bytes()


async def test_a_failed_tmdb_check_closes_the_lake_and_uploads_nothing(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The checks after the lake's run with the lake open: the first that fails ends the
    # run before any byte of the CSV files goes up.
    src = make_csv(tmp_path / "movies.csv", 6 * MIB)
    monkeypatch.setenv("TMDB_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("TMDB_READ_ACCESS_TOKEN", "token")
    settings_for(tmp_path, f"s3://{bucket}", src)  # writes config.toml
    settings = load_settings(
        flags(
            config=tmp_path / "config.toml",
            lake=f"s3://{bucket}",
            date=DATE,
            csv=(str(src),),
            genres=("war",),
        )
    )
    with pytest.raises(ConfigError, match="TMDB"):
        await run_job(settings)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


async def test_rerun_skips_and_changed_file_goes_again(tmp_path: Path, s3: Any, bucket: str) -> None:
    src = make_csv(tmp_path / "movies.csv", 6 * MIB)
    settings = settings_for(tmp_path, f"s3://{bucket}", src)
    await run_job(settings)
    first = s3.head_object(Bucket=bucket, Key=KEY)

    again = await run_job(settings)
    assert again.csv[0].action == "skipped"
    assert s3.head_object(Bucket=bucket, Key=KEY)["ETag"] == first["ETag"]

    with src.open("ab") as fh:
        fh.write("tt9999999|Novo|Novo|2024|90|Crime|7.0|10|F|\\N|Zoë|1990|\\N|actress|tt1\n".encode())
    changed = await run_job(settings)
    assert changed.csv[0].action == "uploaded"
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == src.read_bytes()


async def test_a_part_that_fails_once_is_retried(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_csv(tmp_path / "movies.csv", 11 * MIB)
    async with faulty_s3(aws_env) as proxy:
        proxy.faults.append(Fault(is_part(2), 500, "InternalError"))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        await run_job(settings_for(tmp_path, f"s3://{bucket}", src))

    assert proxy.faults[0].hits == 1
    part2 = [q for m, q, _ in proxy.seen if m == "PUT" and "partNumber=2&" in q + "&"]
    assert len(part2) == 2
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == src.read_bytes()


async def test_a_fatal_failure_aborts_the_upload(
    tmp_path: Path, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_csv(tmp_path / "movies.csv", 16 * MIB)
    async with faulty_s3(aws_env) as proxy:
        proxy.faults.append(Fault(is_part(3), 403, "AccessDenied", times=100))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        with pytest.raises(ConfigError, match="AccessDenied"):
            await run_job(settings_for(tmp_path, f"s3://{bucket}", src))

    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="Raw/")


async def test_malformed_rows_are_reported_and_the_file_lands_unchanged(
    tmp_path: Path, s3: Any, bucket: str
) -> None:
    good = (ROOT / "data" / "movies.csv").read_bytes().splitlines(keepends=True)
    lines = good[:50]
    lines[9] = b"tt1|too|few|fields\n"  # line 10
    lines[29] = lines[29].rstrip(b"\n") + b"|extra\n"  # line 30
    lines[39] = lines[39].replace(b"|", b"|\xff", 1)  # line 40: not UTF-8
    src = tmp_path / "movies.csv"
    src.write_bytes(b"".join(lines))

    report = await run_job(settings_for(tmp_path, f"s3://{bucket}", src))

    result = report.csv[0]
    assert result.malformed_rows == 3
    assert result.first_malformed_lines == [10, 30, 40]
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == src.read_bytes()
    manifest = s3.get_object(Bucket=bucket, Key="_ingest/2026/11/28/csv/movies.csv.manifest.json")
    import orjson

    data = orjson.loads(manifest["Body"].read())
    assert data["first_malformed_lines"] == [10, 30, 40]
    assert data["kind"] == "movies" and data["columns"] == 15 and data["rows"] == 49


async def test_local_lake_gets_the_same_keys(tmp_path: Path) -> None:
    movies = make_csv(tmp_path / "movies.csv", 100_000)
    series = make_csv(tmp_path / "series.csv", 50_000, source=ROOT / "data" / "series.csv")
    lake = tmp_path / "lake"
    report = await run_job(settings_for(tmp_path, str(lake), movies, series))

    files = sorted(p.relative_to(lake).as_posix() for p in (lake / "Raw").rglob("*") if p.is_file())
    assert files == [
        "Raw/Local/CSV/Movies/2026/11/28/movies.csv",
        "Raw/Local/CSV/Series/2026/11/28/series.csv",
    ]
    assert (lake / files[0]).read_bytes() == movies.read_bytes()
    assert (lake / files[1]).read_bytes() == series.read_bytes()
    assert [f.action for f in report.csv] == ["uploaded", "uploaded"]
    assert not [p for p in lake.rglob("*") if ".tmp-" in p.name]
    rerun = await run_job(settings_for(tmp_path, str(lake), movies, series))
    assert [f.action for f in rerun.csv] == ["skipped", "skipped"]


def bad_input(folder: Path, case: str) -> Path:
    if case == "missing":
        return folder / "missing.csv"
    if case == "directory":
        return folder
    path = folder / "movies.csv"
    path.write_bytes(b"" if case == "empty" else b"tt0000001|Heat|1995\ntt0000002|Ran|1985\n")
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "does not exist"),
        ("directory", "is a directory"),
        ("empty", "is empty"),
        ("headerless", "not a header"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, case: str, expected: str) -> None:
    path = bad_input(tmp_path, case)
    good = make_csv(tmp_path / "series.csv", 1000, source=ROOT / "data" / "series.csv")
    lake = tmp_path / "lake"
    # The good file comes first: nothing already ingested is lost, nothing half-written.
    proc = asyncio.run(
        run_cli("--csv", str(good), "--csv", str(path), "--lake", str(lake), "--date", DATE, cwd=tmp_path)
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert expected in lines[-1] and lines[-1].startswith("ingest: ")
    assert "Traceback" not in proc.stderr
    assert not list(lake.rglob("*.tmp-*"))


def test_cli_uploads_to_s3_and_reruns_skip(
    tmp_path: Path, bucket: str, s3: Any, subprocess_env: dict[str, str]
) -> None:
    movies = make_csv(tmp_path / "movies.csv", 7 * MIB)
    series = make_csv(tmp_path / "series.csv", 200_000, source=ROOT / "data" / "series.csv")
    args = ("--csv", str(movies), "--csv", str(series), "--lake", f"s3://{bucket}", "--date", DATE)
    first = asyncio.run(run_cli(*args, cwd=tmp_path, env=subprocess_env))
    assert first.returncode == 0, first.stderr
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == movies.read_bytes()
    series_key = "Raw/Local/CSV/Series/2026/11/28/series.csv"
    assert s3.get_object(Bucket=bucket, Key=series_key)["Body"].read() == series.read_bytes()
    second = asyncio.run(run_cli(*args, cwd=tmp_path, env=subprocess_env))
    assert second.returncode == 0
    assert second.stderr.count('"csv_skipped"') == 2
    assert '"csv_files_skipped":2' in second.stderr


def test_missing_bucket_is_a_usage_error(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    src = make_csv(tmp_path / "movies.csv", 1000)
    proc = asyncio.run(
        run_cli("--csv", str(src), "--lake", "s3://no-such-bucket-here", cwd=tmp_path, env=subprocess_env)
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr.strip().splitlines()[-1]


def test_part_size_grows_past_10000_parts() -> None:
    assert part_size_for(150 * MIB, 8 * MIB) == 8 * MIB
    big = 200 * 1024 * MIB  # 200 GiB would need 25,600 parts of 8 MiB
    size = part_size_for(big, 8 * MIB)
    assert size % MIB == 0 and -(-big // size) <= 10_000 and size >= 8 * MIB


def test_default_date_is_today_utc(tmp_path: Path) -> None:
    settings = load_settings(flags(lake=str(tmp_path)), env={})
    assert settings.date == dt.datetime.now(dt.UTC).date()
