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

import structlog

from ingest import __version__
from ingest.errors import IngestError, UsageError
from ingest.reports.counts import RunReport
from ingest.reports.summary import human_line, log_summary
from ingest.run.job import run_job
from ingest.run.start import CommandParser, refuse, start
from ingest.settings.config import Settings, require_job_source
from ingest.settings.table import add_flags, flagged, flags_of
from ingest.settings.types import suggestion
from ingest.stop import Stop

log = structlog.get_logger(__name__)


# The settings this command takes as flags, in --help's order: the table says which.
FLAGS = flags_of("ingest")


# The commands beside the run itself: ``python -m ingest <command> --help`` for each.
COMMANDS = (("status", "what the lake holds for a date, and whether it is complete"),)


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(
        "python -m ingest",
        "Ingest the movies/series CSV files and TMDB movies into the lake's Raw zone. "
        "Without a selection flag (--csv, --genre, --collections, --catalogue) it runs the main job "
        "that config.toml describes.",
        commands=[(f"python -m ingest {name}", what) for name, what in COMMANDS],
    )
    add_flags(p, FLAGS)
    p.add_argument("--version", action="version", version=f"ingest {__version__}")
    return p


def unknown_command(word: str) -> str:
    """The one line for a bare word where a command or a flag belongs."""
    names = [name for name, _ in COMMANDS]
    close = suggestion(word, names)
    return (
        f"ingest: unknown command {word!r}{close}; the commands are {', '.join(names)}, "
        "and a run takes flags only (see python -m ingest --help)"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["status"]:
        from ingest.status import main as status_main

        return status_main(argv[1:])
    if argv and not argv[0].startswith("-"):
        print(unknown_command(argv[0]), file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    report = RunReport()
    settings: Settings | None = None
    try:
        flags = flagged(args)
        settings = start("ingest", flags, check=lambda _: require_job_source(flags))
        if settings.job.dry_run:
            print(asyncio.run(_dry_run(settings)))
            return 0
        asyncio.run(_run(settings, report))
    except UsageError as exc:
        return refuse("ingest", exc)
    except IngestError as exc:
        return refuse("ingest", exc, " (rerun the same command to resume)")
    except KeyboardInterrupt:
        report.stopped_because = "interrupted"
        report.complete = False
        line = "ingest: interrupted" if settings is None else human_line(report, settings)
        print(line, file=sys.stderr)
        return 130
    log_summary(report, settings)
    print(human_line(report, settings), file=sys.stderr)
    return 0 if report.complete else 1


async def _dry_run(settings: Settings) -> str:
    from ingest.run.checks import run_checks
    from ingest.run.dry_run import preview, render
    from ingest.run.job import check_job

    check_job(settings)
    await run_checks(settings, tmdb=settings.job.uses_tmdb, queue=False)
    return render(await preview(settings), settings)


async def _run(settings: Settings, report: RunReport) -> RunReport:
    stop = Stop()
    loop = asyncio.get_running_loop()
    # SIGTERM (docker stop, a scheduler) finishes what is in flight instead of dying mid-write.
    loop.add_signal_handler(signal.SIGTERM, stop.request, "SIGTERM")
    try:
        return await run_job(settings, stop=stop, report=report, progress=sys.stderr.isatty())
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
