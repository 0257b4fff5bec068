"""``python -m ingest status [--date YYYY-MM-DD] [--lake URL] [--json]``.

Exit 0 when everything planned for the date is in the lake; 1 when something planned is
missing, when nothing at all is there for the date, or when the lake could not be read;
2 on bad usage (one line on stderr). Reads only the lake: no TMDB credentials needed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from typing import NoReturn

from ingest.config import Overrides, load_settings
from ingest.errors import IngestError, UsageError
from ingest.lake import open_lake
from ingest.logs import configure_logging, mask_secrets
from ingest.status.render import render_json, render_text
from ingest.status.survey import DateStatus, survey


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ingest status: {message} (see python -m ingest status --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m ingest status",
        description="What the lake holds for a processing date, one line per dataset. "
        "Exit 0 when everything planned for the date is there, 1 when not, 2 on bad usage.",
    )
    p.add_argument("--date", metavar="YYYY-MM-DD", help="processing date (default: today, UTC)")
    p.add_argument(
        "--lake",
        metavar="URL",
        help="s3://bucket[/prefix] or a local directory (default: INGEST_LAKE, then config.toml, "
        "then ./datalake)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object instead of the tables")
    return p


def lake_and_date(args: argparse.Namespace) -> tuple[str, dt.date, str | None]:
    """The one place status reads settings: the lake, the date and the queue (to say how
    much of an enqueued date is still on it), same precedence as a run."""
    settings = load_settings(Overrides(lake=args.lake, date=args.date))
    return settings.lake, settings.date, settings.queue.url


async def _survey(
    lake_url: str, date: dt.date, queue_url: str | None
) -> tuple[DateStatus, tuple[int, int] | None]:
    async with open_lake(lake_url) as lake:
        status = await survey(lake, date)
    last = status.last_run
    if status.complete or queue_url is None or last is None or not last.enqueue:
        return status, None
    from ingest.queue.sqs import SqsQueue

    try:
        async with SqsQueue.connect(queue_url) as queue:
            return status, await queue.depth()
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
