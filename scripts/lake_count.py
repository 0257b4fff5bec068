"""Count the TMDB movie records in a lake, for scripts/container_check.py: run inside the
project's image (its Python has boto3), so the machine that runs the check needs nothing
but podman.

    python lake_count.py LAKE      LAKE: a directory, or s3://bucket[/prefix] (AWS_ENDPOINT_URL)

Prints one JSON object: records and distinct movie ids per genre (the file name's prefix,
``Raw/TMDB/JSON/Movies/YYYY/MM/DD/<genre>-NNNNN.json``), distinct ids over all genres,
lines that do not parse, temporary files left behind (the directory lake's ``.tmp-``
names) and, for a directory, the owners (uid) of every file.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MOVIES = "Raw/TMDB/JSON/Movies/"
TMP_MARK = ".tmp-"


def _local(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path.relative_to(root).as_posix(), b""


def _s3_objects(url: str) -> Iterator[tuple[str, bytes]]:
    import boto3

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = f"{prefix.rstrip('/')}/" if prefix else ""
    s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"][len(prefix) :]
            body = (
                s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read() if key.startswith(MOVIES) else b""
            )
            yield key, body


def count(lake: str) -> dict[str, Any]:
    local = not lake.startswith("s3://")
    records: Counter[str] = Counter()
    ids: dict[str, set[int]] = {}
    bad_lines = 0
    temp: list[str] = []
    owners: Counter[int] = Counter()
    for key, body in _local(Path(lake)) if local else _s3_objects(lake):
        if local:
            owners[(Path(lake) / key).stat().st_uid] += 1
            body = (Path(lake) / key).read_bytes() if key.startswith(MOVIES) else b""
        if TMP_MARK in key.rsplit("/", 1)[-1]:
            temp.append(key)
            continue
        if not key.startswith(MOVIES) or not key.endswith(".json"):
            continue
        genre = key.rsplit("/", 1)[-1].rsplit("-", 1)[0]
        for line in body.splitlines():
            try:
                movie_id = int(json.loads(line)["id"])
            except (ValueError, KeyError, TypeError):
                bad_lines += 1
                continue
            records[genre] += 1
            ids.setdefault(genre, set()).add(movie_id)
    return {
        "records": dict(records),
        "distinct": {g: len(s) for g, s in ids.items()},
        "ids": len(set().union(*ids.values())) if ids else 0,
        "bad_lines": bad_lines,
        "temp_files": temp,
        "owners": {str(uid): n for uid, n in owners.items()},
    }


if __name__ == "__main__":
    print(json.dumps(count(sys.argv[1])))
