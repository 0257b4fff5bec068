"""The JSON log line as another program reads it: every structured field plain JSON (a
dict stays an object, a path becomes its text, never a Python repr), and a registered
secret masked however deep it sits. Run in a process of its own, as the CLI logs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
SECRET = "tok-0123456789abcdef"

LOGGING_PROCESS = f"""
import pathlib
import sys
import structlog
from ingest.reports.logs import configure_logging, register_secret

configure_logging(json=sys.argv[1] == "json")
register_secret({SECRET!r})
structlog.get_logger("t").info(
    "run_counted",
    runs={{"succeeded": 2, "failed": 0, "nested": {{"url": "https://x/?t={SECRET}"}}}},
    ids=(1, 2),
    path=pathlib.Path("/data/movies.csv"),
    note="bearer {SECRET}",
)
"""


def test_structured_fields_stay_json_and_secrets_are_masked_at_any_depth() -> None:
    proc = asyncio.run(run_cli("json", code=LOGGING_PROCESS, cwd=ROOT))
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stderr
    event = orjson.loads(proc.stderr.strip().splitlines()[-1])
    assert event["runs"] == {"succeeded": 2, "failed": 0, "nested": {"url": "https://x/?t=***"}}
    assert event["ids"] == [1, 2]
    assert event["path"] == "/data/movies.csv"
    assert event["note"] == "bearer ***"


def test_the_console_shows_structured_fields_as_json_too() -> None:
    """On a terminal the line is for a person, but a dict or list field is still JSON a
    person can paste, not ``{'succeeded': 2}``; secrets are masked the same way."""
    proc = asyncio.run(run_cli("console", code=LOGGING_PROCESS, cwd=ROOT))
    assert proc.returncode == 0, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert SECRET not in line
    # The console renderer quotes a value holding quotes; inside them is the JSON.
    assert 'runs=\'{"succeeded":2,"failed":0,"nested":{"url":"https://x/?t=***"}}\'' in line
    assert "ids=[1,2]" in line
    assert "path=/data/movies.csv" in line
