"""``python -m ingest``: the one-shot command, and the contract's exit codes.

0 done; 2 bad usage, configuration or input (one line on stderr saying what and how to
fix it, no traceback); 1 a failure that survived retries, or a run stopped before its
end (rerunning the same command resumes it). Only this module, ``ingest.aws_lambda`` and
``workers`` turn exceptions into exit codes and messages.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import fields
from typing import Any, NoReturn

import structlog

from ingest import __version__
from ingest.config import Overrides, Settings
from ingest.errors import IngestError, UsageError
from ingest.job import run_job
from ingest.report import RunReport
from ingest.settings_table import add_flags
from ingest.startup import refuse, start
from ingest.stop import Stop

log = structlog.get_logger(__name__)


# The settings this command takes as flags, in --help's order; the table says the rest.
FLAGS = (
    "job.csv",
    "job.genres",
    "job.collections",
    "job.catalogue",
    "job.include_adult",
    "job.lake",
    "run.date",
    "job.limit",
    "job.refresh",
    "job.enqueue",
    "tmdb.rate_per_s",
    "tmdb.concurrency",
    "run.config",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: the contract promises one clear line.
        self.exit(2, f"ingest: {message} (see python -m ingest --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m ingest",
        description="Ingest the movies/series CSV files and TMDB movies into the lake's Raw zone. "
        "Without a selection flag (--csv, --genre, --collections, --catalogue) it runs the main job "
        "that config.toml describes.",
    )
    add_flags(p, FLAGS)
    p.add_argument("--version", action="version", version=f"ingest {__version__}")
    return p


def overrides_from(args: argparse.Namespace) -> Overrides:
    """The flags the command line said, as ``Overrides`` (the parser's dests are its fields)."""
    said: dict[str, Any] = {}
    for f in fields(Overrides):
        value = getattr(args, f.name, None)
        if value is not None:
            said[f.name] = tuple(value) if isinstance(value, list) else value
    return Overrides(**said)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["status"]:
        from ingest.status import main as status_main

        return status_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        settings = start("ingest", overrides_from(args))
        report = asyncio.run(_run(settings))
    except UsageError as exc:
        return refuse("ingest", exc)
    except IngestError as exc:
        return refuse("ingest", exc, " (rerun the same command to resume)")
    except KeyboardInterrupt:
        print("ingest: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    log_summary(report, settings)
    if not report.complete:
        print(
            f"ingest: stopped ({report.stopped_because}) before the work was done; "
            "rerun the same command to resume",
            file=sys.stderr,
        )
        return 1
    return 0


async def _run(settings: Settings) -> RunReport:
    stop = Stop()
    loop = asyncio.get_running_loop()
    # SIGTERM (docker stop, a scheduler) finishes what is in flight instead of dying mid-write.
    loop.add_signal_handler(signal.SIGTERM, stop.request, "SIGTERM")
    try:
        return await run_job(settings, stop=stop, progress=sys.stderr.isatty())
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def log_summary(report: RunReport, settings: Settings) -> None:
    """The run's one canonical summary line."""
    # Throughput over the files actually sent: a skipped file moved no bytes.
    uploaded = [f for f in report.csv if f.action == "uploaded"]
    csv_bytes = sum(f.bytes for f in uploaded)
    csv_seconds = sum(f.seconds for f in uploaded)
    t = report.tmdb
    fields: dict[str, object] = {
        "lake": settings.lake,
        "date": settings.date.isoformat(),
        "seconds": report.seconds,
        "complete": report.complete,
    }
    if report.csv:
        fields |= {
            "files": len(report.csv),
            "files_skipped": sum(f.action == "skipped" for f in report.csv),
            "bytes": csv_bytes,
            "mb_per_s": round(csv_bytes / 1e6 / csv_seconds, 1) if csv_seconds else None,
            "rows": sum(f.rows for f in report.csv),
            "malformed_rows": sum(f.malformed_rows for f in report.csv),
        }
    if settings.job.uses_tmdb or settings.job.catalogue:
        fields |= {
            "movies_planned": t.planned,
            "movies_written": t.written,
            "movies_skipped_404": t.skipped,
            "movies_failed": t.failed,
            "collections_planned": t.collections_planned,
            "collections_written": t.collections_written,
            "json_files": t.files,
            "requests": t.requests,
            "throttled_429": t.throttled,
            "retries": t.retries,
            "movies_per_s": round(t.written / report.seconds, 1) if report.seconds else None,
            **t.refresh_summary(),
        }
    log.info("run_completed", **fields)
