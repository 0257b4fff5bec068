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

from ingest.config import load_settings
from ingest.errors import IngestError, UsageError
from ingest.lake import open_lake
from ingest.logs import configure_logging
from ingest.settings_table import flagged
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


def lake_and_date(args: argparse.Namespace) -> tuple[str, dt.date]:
    """The one place status reads settings: the lake and the date, same precedence as a run."""
    settings = load_settings(flagged(args, ("run.lake", "run.date")))
    return settings.lake, settings.date


async def _survey(lake_url: str, date: dt.date) -> DateStatus:
    async with open_lake(lake_url) as lake:
        return await survey(lake, date)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Log lines (if the lake emits any) go to stderr; stdout carries only the status.
    configure_logging()
    try:
        lake_url, date = lake_and_date(args)
        status = asyncio.run(_survey(lake_url, date))
    except UsageError as exc:
        print(f"ingest status: {exc}", file=sys.stderr)
        return 2
    except IngestError as exc:
        print(f"ingest status: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ingest status: interrupted", file=sys.stderr)
        return 130
    sys.stdout.write(render_json(status) if args.json else render_text(status))
    return 0 if status.complete else 1
