"""``python -m ingest status [--date YYYY-MM-DD] [--lake URL] [--json]``.

Exit 0 when everything planned for the date is in the lake; 1 when something planned is
missing, when nothing at all is there for the date, or when the lake failed to answer
after retries; 2 on bad usage or a lake that cannot be used as given (a missing or denied
bucket), one line on stderr. Reads only the lake: no TMDB credentials needed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from ingest.errors import IngestError, UsageError
from ingest.reports.logs import configure_logging, mask_secrets
from ingest.run.checks import check_lake, log_opened
from ingest.run.start import CommandParser
from ingest.settings.config import load_settings
from ingest.settings.table import add_flags, flagged, flags_of
from ingest.state import open_lake
from ingest.status.hints import QueueView
from ingest.status.render import render_json, render_text
from ingest.status.rows import DateStatus
from ingest.status.survey import survey


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(
        "python -m ingest status",
        "What the lake holds for a processing date, one line per dataset, and what the date's "
        "runs asked for. Reads only the lake (and the queue's depth after --enqueue).",
        exit_codes="exit status: 0 everything asked for the date is in the lake; 1 something is "
        "missing (or nothing is there, or the lake failed to answer after retries); 2 bad usage, "
        "or a lake that cannot be used as given (a bucket that does not exist or is denied)",
    )
    add_flags(p, flags_of("status"))
    p.add_argument("--json", action="store_true", help="one JSON object instead of the tables")
    return p


def lake_and_date(args: argparse.Namespace) -> tuple[str, dt.date, str | None]:
    """The one place status reads settings: the lake, the date and the queue (to say how
    much of an enqueued date is still on it), same precedence as a run."""
    settings = load_settings(flagged(args, flags_of("status")))
    return settings.lake, settings.date, settings.queue.url


async def _survey(lake_url: str, date: dt.date, queue_url: str | None) -> tuple[DateStatus, QueueView | None]:
    log_opened(lake_url, await check_lake(lake_url))
    async with open_lake(lake_url) as lake:
        status = await survey(lake, date)
    last = status.last_run
    if status.complete or queue_url is None or last is None or not last.enqueue:
        return status, None
    from ingest.queue.sqs import SqsQueue

    try:
        async with SqsQueue.connect(queue_url) as queue:
            waiting, in_flight = await queue.depth()
            dead = await queue.dead_letters()
            return status, QueueView(waiting, in_flight, *(dead or (0, None)))
    except IngestError as exc:
        # The lake's answer stands on its own; the queue's counts are a courtesy.
        print(mask_secrets(f"ingest status: queue not read: {exc}"), file=sys.stderr)
        return status, None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Log lines (if the lake emits any) go to stderr; stdout carries only the status.
    configure_logging()
    try:
        lake_url, date, queue_url = lake_and_date(args)
        status, queue = asyncio.run(_survey(lake_url, date, queue_url))
    except UsageError as exc:
        print(mask_secrets(f"ingest status: {exc}"), file=sys.stderr)
        return 2
    except IngestError as exc:
        print(mask_secrets(f"ingest status: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ingest status: interrupted", file=sys.stderr)
        return 130
    sys.stdout.write(render_json(status, queue) if args.json else render_text(status, queue))
    return 0 if status.complete else 1
