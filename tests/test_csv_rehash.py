"""Stage 1 hashes a file in the upload's own read, and a rerun hashes it again only when
the manifest cannot vouch for it: against moto's server over HTTP and a local directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.csv import stage
from ingest.csv.scan import hash_file
from ingest.job import run_job
from ingest.lake import open_lake
from tests.test_csv_stage import KEY, MIB, make_csv, settings_for, sha

MANIFEST = "_ingest/2026/11/28/csv/movies.csv.manifest.json"


@pytest.fixture(params=["local", "s3"])
def lake_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "lake")
    return str(request.getfixturevalue("s3_lake_url"))


class HashCount:
    """Counts the separate hashing passes stage 1 makes (the upload's own read is not one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[Path] = []
        monkeypatch.setattr(stage, "hash_file", self)

    def __call__(self, path: Path) -> tuple[int, str]:
        self.paths.append(path)
        return hash_file(path)


async def test_an_upload_hashes_in_its_own_read_and_a_rerun_does_not_hash(
    tmp_path: Path, lake_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_csv(tmp_path / "movies.csv", 11 * MIB)  # three parts of 5 MiB on S3
    settings = settings_for(tmp_path, lake_url, src)
    hashes = HashCount(monkeypatch)

    first = await run_job(settings)
    assert first.csv[0].action == "uploaded" and first.csv[0].sha256 == sha(src.read_bytes())
    assert hashes.paths == []
    async with open_lake(lake_url) as lake:
        info = await lake.stat(KEY)
        manifest = orjson.loads(await lake.read(MANIFEST) or b"null")
    assert info is not None and info.sha256 == sha(src.read_bytes())
    st = src.stat()
    assert manifest["source_stat"] == {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}

    again = await run_job(settings)
    assert again.csv[0].action == "skipped" and again.csv[0].sha256 == info.sha256
    assert hashes.paths == []  # same size and mtime as the manifest recorded

    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched, same bytes
    touched = await run_job(settings)
    assert touched.csv[0].action == "skipped"
    assert hashes.paths == [src]
    await run_job(settings)
    assert hashes.paths == [src]  # the touch was recorded: no hashing the time after


async def test_an_object_a_previous_version_wrote_is_not_uploaded_again(
    tmp_path: Path, s3: Any, bucket: str
) -> None:
    # As the version before wrote it: SHA-256 in the object's metadata, no record beside
    # it, a manifest without the file's mtime.
    src = make_csv(tmp_path / "movies.csv", 11 * MIB)
    s3.put_object(Bucket=bucket, Key=KEY, Body=src.read_bytes(), Metadata={"sha256": sha(src.read_bytes())})
    etag = s3.head_object(Bucket=bucket, Key=KEY)["ETag"]

    report = await run_job(settings_for(tmp_path, f"s3://{bucket}", src))

    assert report.csv[0].action == "skipped"
    assert s3.head_object(Bucket=bucket, Key=KEY)["ETag"] == etag
    manifest = orjson.loads(s3.get_object(Bucket=bucket, Key=MANIFEST)["Body"].read())
    assert manifest["sha256"] == sha(src.read_bytes()) and "source_stat" in manifest


async def test_a_record_beside_an_object_someone_else_replaced_is_not_trusted(
    tmp_path: Path, s3: Any, bucket: str
) -> None:
    src = make_csv(tmp_path / "movies.csv", 11 * MIB)
    settings = settings_for(tmp_path, f"s3://{bucket}", src)
    await run_job(settings)
    # Same size, other bytes, written by another tool: the record beside it names the
    # ETag of the object the pipeline wrote, so it no longer vouches for this one.
    other = src.read_bytes()[::-1]
    s3.put_object(Bucket=bucket, Key=KEY, Body=other)
    async with open_lake(f"s3://{bucket}") as lake:
        info = await lake.stat(KEY)
    assert info is not None and info.size == len(other) and info.sha256 is None

    report = await run_job(settings)
    assert report.csv[0].action == "uploaded"
    assert s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == src.read_bytes()
