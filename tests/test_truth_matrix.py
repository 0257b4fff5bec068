"""What the tool says is true, whatever mode made the day: every entry point (one-shot
command, queue workers, Lambda scheduled event, Lambda SQS event) x refresh (a full day, an
incremental day after a full one) x interruption (none, SIGKILL mid-run then resume), with
the selection (movies, movies and collections) in half of those cells, on moto (S3 and SQS)
and the TMDB stand-in, each run a real process.

Which half: the one-shot command and the scheduled Lambda take collections in the full
killed and the incremental whole cells, the queue workers and the SQS Lambda in the other
two. So each entry point meets both selections with each refresh and each interruption,
and every triple of refresh, selection and interruption comes up across entry points: a
cell left out would repeat combinations the others already break on.

After each cell: every movie (and collection) of the selection is in the date's partition
exactly once, against the stand-in's own truth; the cursor is on the date; ``python -m
ingest status`` exits 0. After a kill, before the resume, status exits 1, names what is
missing and gives the hint that fits the entry point.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from asyncio.subprocess import Process
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.lake.keys import Kind, tmdb_prefix
from ingest.reports.counts import TmdbStats
from ingest.standin import DAY0, Catalog, DailyChange, Standin, free_port
from ingest.state import open_lake
from ingest.status.render import render_json
from ingest.status.survey import survey
from ingest.stop import Stop
from ingest.tmdb.stage import run_tmdb
from tests.helpers import eventually, kill_once, standin_env, start_cli
from tests.queue_kit import Queues
from tests.tmdb_fixtures import FAST, settings_for

WAR = 10752
CHANGE = DailyChange(changed=0.2, added=0.05, removed=0.01)
ENTRIES = ("oneshot", "queue", "lambda", "lambda_sqs")
# How the status hint reads for a date each entry point left unfinished.
HINTS = {
    "oneshot": "-m ingest --genre war",
    "queue": "start queue workers",
    "lambda": "invoke the Lambda again",
    "lambda_sqs": "start queue workers",
}

# The Lambda, as its runtime calls it: a scheduled event chained on "continue" until done.
_LAMBDA = """
import json, sys
from ingest.aws_lambda import handler
from tests.helpers import LambdaContext
event = json.loads(sys.argv[1])
for _ in range(50):
    answer = handler(event, LambdaContext(600))
    if answer["status"] == "done":
        break
    event = answer["continue"]
else:
    sys.exit("no end to the chain")
"""
# An SQS event source mapping: up to 10 messages an event, the answer's failures left on
# the queue, the rest deleted; until the queue holds nothing, visible or not (a batch the
# handler finishes last sends the collections' batches before it answers).
_LAMBDA_SQS = """
import os, sys, time, boto3
from ingest.aws_lambda import handler
from tests.helpers import LambdaContext
from tests.queue_kit import queue_depth
endpoint, url = os.environ["AWS_ENDPOINT_URL"], os.environ["INGEST_QUEUE_URL"]
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
while queue_depth(endpoint, url):
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                              AttributeNames=["All"]).get("Messages", [])
    if not got:
        time.sleep(0.1)  # what a killed run held comes back at its visibility timeout
        continue
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "eventSource": "aws:sqs"} for m in got]
    answer = handler({"Records": records}, LambdaContext(600))
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    for m in got:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
"""


class Cell:
    """One cell's world: the stand-in, a bucket, a queue, and the runs of its entry point."""

    def __init__(self, entry: str, fake: Standin, bucket: str, folder: Path, queues: Queues, s3: Any) -> None:
        self.entry = entry
        self.fake = fake
        self.bucket = bucket
        self.folder = folder
        self.s3 = s3
        config = folder / "config.toml"
        config.write_text(
            "[tmdb]\nrate_per_s = 1000\nconcurrency = 4\n"
            "[queue]\nwait_s = 1\nbatches_in_flight = 2\nvisibility_s = 2\n[service]\ngrace_s = 5\n"
        )
        self.env = standin_env(
            fake.url, INGEST_LAKE=f"s3://{bucket}", INGEST_QUEUE_URL=queues.url, INGEST_CONFIG=str(config)
        )

    async def _spawn(self, *args: str, code: str | None = None, module: str = "ingest") -> Process:
        with (self.folder / "runs.log").open("ab") as log:
            return await start_cli(
                *args, cwd=self.folder, env=self.env, module=module, code=code, stdout=log, stderr=log
            )

    def _ingest(self, date: dt.date, refresh: str, collections: bool, *extra: str) -> list[str]:
        flags = ["--genre", "war", "--refresh", refresh, "--date", date.isoformat()]
        return flags + ["--collections"] * collections + list(extra)

    async def run(self, date: dt.date, refresh: str, collections: bool, *, kill: bool) -> None:
        """The entry point's run of ``date``; with ``kill``, SIGKILL once one batch landed
        (status is then checked, and the run resumed the way that entry point resumes)."""
        if self.entry in ("queue", "lambda_sqs"):
            await self._finish(
                await self._spawn(*self._ingest(date, refresh, collections, "--enqueue")), date
            )
        proc = await self._start(date, refresh, collections)
        if kill:
            await self._kill_after_first_batch(proc, date)
            await self._check_interrupted(date, collections)
            proc = await self._start(date, refresh, collections)
        await self._finish(proc, date, worker=self.entry == "queue")

    async def _start(self, date: dt.date, refresh: str, collections: bool) -> Process:
        if self.entry == "oneshot":
            return await self._spawn(*self._ingest(date, refresh, collections))
        if self.entry == "lambda":
            event = {"genres": ["war"], "collections": collections, "refresh": refresh, "date": str(date)}
            return await self._spawn(json.dumps(event), code=_LAMBDA)
        if self.entry == "lambda_sqs":
            return await self._spawn(code=_LAMBDA_SQS)
        return await self._spawn("--queue", "--port", str(free_port()), module="workers")

    async def _finish(self, proc: Process, date: dt.date, *, worker: bool = False) -> None:
        """A run ends by itself; a queue worker is stopped (SIGTERM) once status says the
        date is complete."""
        if worker:

            async def complete_or_ended() -> bool:
                return proc.returncode is not None or (await self.status(date))[0] == 0

            await eventually(
                complete_or_ended, "status to say the day is complete", within_s=120, every_s=0.2
            )
            if proc.returncode is None:
                proc.terminate()
        rc = await asyncio.wait_for(proc.wait(), 300)
        assert rc == 0, (self.folder / "runs.log").read_text()[-3000:]

    async def _kill_after_first_batch(self, proc: Process, date: dt.date) -> None:
        prefix = tmdb_prefix(Kind.MOVIES, date)

        def listed() -> int:
            return int(self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("KeyCount", 0))

        await kill_once(proc, listed, "a first batch in the lake")

    async def _check_interrupted(self, date: dt.date, collections: bool) -> None:
        rc, body = await self.status(date)
        assert rc == 1 and not body["complete"], body
        states = {f"{t['genre']} {t['kind']}": t["state"] for t in body["tmdb"]}
        assert states["war movies"] in ("missing", "finishing"), states
        if collections:
            assert states["war collections"] in ("unplanned", "missing", "finishing"), states
        else:
            assert "war collections" not in states
        assert HINTS[self.entry] in body["hint"], body["hint"]

    async def status(self, date: dt.date) -> tuple[int, dict[str, Any]]:
        """What ``python -m ingest status --json`` answers (its exit code, its body), from
        the same survey and rendering, in this process (a process per poll is too slow)."""
        async with open_lake(f"s3://{self.bucket}") as lake:
            status = await survey(lake, date)
        return (0 if status.complete else 1), orjson.loads(render_json(status))

    def ids(self, kind: Kind, date: dt.date) -> Counter[int]:
        found: Counter[int] = Counter()
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=tmdb_prefix(kind, date)
        )
        for page in pages:
            for obj in page.get("Contents", []):
                body = self.s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read()
                found.update(orjson.loads(line)["id"] for line in body.splitlines())
        return found

    def cursor(self, kind: Kind) -> str | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=f"_ingest/tmdb/cursors/{kind}-war.json")
        except self.s3.exceptions.NoSuchKey:
            return None
        return str(orjson.loads(body["Body"].read())["date"])


def _increment(before: Catalog, after: Catalog) -> set[int]:
    was = before.genre_ids(WAR)
    changed = set(after.changed_between(before.day, after.day))
    return {i for i in after.genre_ids(WAR) if i not in was or i in changed}


def _cells() -> Iterator[Any]:
    """Each entry point x refresh x interruption; collections where the module says."""
    for n, entry in enumerate(ENTRIES):
        for refresh in ("full", "incremental"):
            for kill in (False, True):
                collections = ((refresh == "full") == kill) == (n % 2 == 0)
                ids = (
                    entry,
                    refresh,
                    "collections" if collections else "movies",
                    "killed" if kill else "whole",
                )
                yield pytest.param(entry, refresh, collections, kill, id="-".join(ids))


@pytest.mark.parametrize(("entry", "refresh", "collections", "kill"), list(_cells()))
async def test_every_mode_lands_exactly_once_and_status_says_so(
    entry: str,
    refresh: str,
    collections: bool,
    kill: bool,
    tmp_path: Path,
    bucket: str,
    s3: Any,
    new_queues: Callable[..., Queues],
) -> None:
    day0 = Catalog.synthetic({WAR: 420, 80: 60}, seed=11, daily=CHANGE)
    # A little latency per answer, so a kill lands mid-run.
    fake = Standin(day0, latency_s=0.01 if kill else 0.0)
    async with fake.serve():
        queues = new_queues(max_receives=20, visibility_s=2)
        cell = Cell(entry, fake, bucket, tmp_path, queues, s3)
        date, before = DAY0, day0
        if refresh == "incremental":
            # The full day before (in this process: its entry point is not what is tried),
            # then one day of churn.
            async with open_lake(f"s3://{bucket}") as lake:
                day0_run = settings_for(fake.url, lake.url, date=DAY0, collections=collections)
                assert await run_tmdb(lake, day0_run, TmdbStats(), stop=Stop(), progress=False, tuning=FAST)
            fake.day = 1
            date = DAY0 + dt.timedelta(days=1)
        await cell.run(date, refresh, collections, kill=kill)
        catalog = fake.catalog

    want = catalog.genre_ids(WAR) if refresh == "full" else _increment(before, catalog)
    movies = cell.ids(Kind.MOVIES, date)
    assert set(movies) == want and set(movies.values()) == {1}
    colls = cell.ids(Kind.COLLECTIONS, date)
    if collections:
        assert set(colls) == catalog.collection_ids(want) and all(n == 1 for n in colls.values())
        assert cell.cursor(Kind.COLLECTIONS) == date.isoformat()
    else:
        assert not colls
    assert cell.cursor(Kind.MOVIES) == date.isoformat()
    rc, body = await cell.status(date)
    assert rc == 0 and body["complete"] and body["hint"] is None, body
    assert (body["runs"][-1]["entry"], body["runs"][-1]["enqueue"]) == (
        "lambda" if entry == "lambda" else "cli",
        entry in ("queue", "lambda_sqs"),
    )
