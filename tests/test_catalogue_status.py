"""``status`` tells the truth about a catalogue day: what a ``--catalogue`` run asked for is
in its run record (``ingest.state.runs``), so a catalogue asked for and never planned is
``unplanned``, one not all in is ``missing`` or ``finishing``, and the hint resumes it the way
the day was made. On moto's S3 (and SQS) and the stand-in serving a small ``Universe``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from ingest.lake import Lake
from ingest.lake.keys import Kind, tmdb_prefix
from ingest.lake.s3 import S3Lake
from ingest.reports.commands import python
from ingest.standin import DAY0
from ingest.state import open_lake
from ingest.state.cursor import cursor_key
from ingest.state.runs import RunRequest, record_request
from ingest.status.render import render_json, render_text
from ingest.status.survey import survey
from tests.helpers import delete_from_lake, run_cli
from tests.queue_kit import Queues, enqueue, env_for
from tests.test_catalogue import catalogue_settings, fake, run, universe


async def _said(lake: Lake) -> tuple[dict[str, str], str]:
    """Each catalogue row's state, and the verdict line."""
    status = await survey(lake, DAY0)
    states = {f"{t.genre} {t.kind}": t.state for t in status.tmdb}
    return states, render_text(status).splitlines()[-1]


async def test_a_catalogue_asked_for_and_never_planned_is_unplanned(s3_lake: Lake) -> None:
    """Killed before it planned: the record alone says what the day was meant to hold."""
    u = universe(250)
    async with fake(u).serve() as url:
        settings = catalogue_settings(url, s3_lake, 0, collections=True, include_adult=True)
        await record_request(s3_lake, RunRequest.of(settings, "cli"))
        states, verdict = await _said(s3_lake)
        assert states == {"catalogue movies": "unplanned", "catalogue collections": "unplanned"}
        assert "asked for and never planned: catalogue movies, catalogue collections" in verdict
        assert verdict.endswith(
            f"rerun to finish it: {python()} -m ingest --media movies --catalogue --include-adult --collections "
            f"--lake {s3_lake.url} --date {DAY0.isoformat()}"
        ), verdict
        body = orjson.loads(render_json(await survey(s3_lake, DAY0)))
        assert [(r["catalogue"], r["include_adult"], r["collections"]) for r in body["runs"]] == [
            (True, True, True)
        ]
        # Nothing is planned: no refresh is held yet, only the one asked for (the default,
        # incremental), which the table says as such.
        asked = settings.job.refresh
        assert asked == "incremental"
        assert [(t["refresh"], t["asked_refresh"]) for t in body["tmdb"]] == [(None, asked)] * 2
        rows = render_text(await survey(s3_lake, DAY0)).splitlines()
        assert all(f"unplanned  asked {asked}" in r for r in rows if r.startswith("catalogue ")), rows
        assert (await run(s3_lake, url, 0, collections=True, include_adult=True))[0]
    states, verdict = await _said(s3_lake)
    assert states == {"catalogue movies": "ok", "catalogue collections": "ok"}
    assert verdict.startswith("complete:"), verdict
    # A first day is a full snapshot whatever was asked: the rows say both.
    body = orjson.loads(render_json(await survey(s3_lake, DAY0)))
    assert [(t["refresh"], t["asked_refresh"]) for t in body["tmdb"]] == [("full", asked)] * 2


async def test_a_catalogue_not_all_in_is_missing_or_finishing_with_its_resume_command(
    s3_lake: Lake,
) -> None:
    u = universe(250)
    async with fake(u).serve() as url:
        settings = catalogue_settings(url, s3_lake, 0)
        await record_request(s3_lake, RunRequest.of(settings, "service"))
        assert (await run(s3_lake, url, 0))[0]
        assert (await _said(s3_lake))[0] == {"catalogue movies": "ok"}
        # Killed between its last batch and moving the cursor: not a complete day yet.
        delete_from_lake(s3_lake.url, cursor_key(Kind.MOVIES, "catalogue"))
        states, verdict = await _said(s3_lake)
        assert states == {"catalogue movies": "finishing"}
        assert "every batch in but the run's last step not taken: catalogue movies" in verdict
        assert (await run(s3_lake, url, 0))[0]
        assert (await _said(s3_lake))[0] == {"catalogue movies": "ok"}
        delete_from_lake(s3_lake.url, f"{tmdb_prefix(Kind.MOVIES, DAY0)}catalogue-000002.json")
        states, verdict = await _said(s3_lake)
        assert states == {"catalogue movies": "missing"}
        assert verdict.startswith("incomplete: 1 TMDB batch not in the lake;"), verdict
        assert verdict.endswith(
            f"the service's next run finishes it, or run now: {python()} -m ingest --media movies --catalogue "
            f"--lake {s3_lake.url} --date {DAY0.isoformat()}"
        ), verdict


async def test_an_enqueued_catalogue_day_points_at_the_queue(
    tmp_path: Path, s3_lake_url: str, new_queues: Callable[..., Queues]
) -> None:
    """``--catalogue --enqueue`` run as a process: its record says catalogue, and status sends
    the reader to the queue's workers; killed before it planned, to the same command."""
    queues = new_queues(max_receives=5, visibility_s=30)
    u = universe(250)
    async with fake(u).serve() as url:
        env = env_for(url, s3_lake_url, queues.url) | {"TMDB_EXPORTS_URL": f"{url}/p/exports"}
        async with open_lake(s3_lake_url) as lake:
            killed = catalogue_settings(url, lake, 1, enqueue=True)
            await record_request(lake, RunRequest.of(killed, "cli"))
        rc, err = await enqueue(env, tmp_path, "--catalogue", "--date", DAY0.isoformat())
        assert rc == 0, err[-2000:]
        for day, wanted in (
            (DAY0, f"start queue workers ({python()} -m workers --queue)"),
            (DAY0 + dt.timedelta(days=1), None),
        ):
            done = await run_cli("status", "--json", "--date", day.isoformat(), cwd=tmp_path, env=env)
            assert done.returncode == 1, done.stderr
            body = json.loads(done.stdout)
            (row,) = body["tmdb"]
            assert [r["catalogue"] for r in body["runs"]] == [True]
            if wanted:
                assert row["state"] == "missing" and row["batches_missing"] == row["batches"] == 3
                assert wanted in body["hint"], body["hint"]
            else:
                assert row["state"] == "unplanned"
                assert body["hint"] == (
                    f"rerun to finish it: {python()} -m ingest --media movies --catalogue --enqueue --lake {s3_lake_url} "
                    f"--date {day.isoformat()}"
                )


async def test_status_lists_each_prefix_once_and_shares_it(
    s3_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The date's TMDB state and files are listed once: no listing of a prefix under one
    already listed (the catalogue's markers and files used to be listed again)."""
    u = universe(250)
    async with fake(u).serve() as url:
        assert (await run(s3_lake, url, 0, collections=True))[0]
    listed: list[str] = []
    real = S3Lake.list

    async def listing(self: S3Lake, prefix: str) -> list[str]:
        listed.append(prefix)
        return await real(self, prefix)

    monkeypatch.setattr(S3Lake, "list", listing)
    status = await survey(s3_lake, DAY0)
    assert status.complete and [t.batches for t in status.tmdb] == [3, 1]
    assert len(listed) == len(set(listed))
    assert [(a, b) for a in listed for b in listed if a != b and b.startswith(a)] == []
    assert tmdb_prefix(Kind.MOVIES, DAY0) in listed


def test_a_run_record_written_before_the_catalogue_was_kept_reads_as_no_catalogue() -> None:
    new = RunRequest(DAY0, "cli", (), ("war",), True, False, "incremental", None, False)
    body = orjson.loads(new.body())
    for key in ("catalogue", "include_adult"):
        del body["asked"][key]
    old = RunRequest.from_json(orjson.dumps(body))
    assert old == new and not old.catalogue and not old.include_adult
    asked = RunRequest(DAY0, "lambda", (), (), False, True, "full", None, True, catalogue=True)
    assert RunRequest.from_json(asked.body()) == asked
