"""How a run is summed up: one set of count names, and the last line a person reads.

``counts`` names every figure once; the JSON log's ``run_completed``, the Lambda's answer
and the service's ``/metrics`` (``ingest_<name>``) use the same names. ``human_line`` is
the last line of a command-line run: what landed where, how long it took, and the next
command.
"""

from __future__ import annotations

from typing import Any

import structlog

from ingest.reports.commands import status_command, workers_command
from ingest.reports.counts import RunReport
from ingest.reports.progress import human_bytes
from ingest.settings.config import Settings

log = structlog.get_logger(__name__)


# The counts that add up across runs, each exposed by the service's /metrics as the
# counter ``ingest_<name>_total``, with its help text; docs/contract.md lists the same
# names (tests/test_metrics_names.py holds the list, the page and the dashboard together).
COUNTERS: dict[str, str] = {
    "csv_files": "CSV files runs were given (uploaded, or skipped as already in the lake).",
    "csv_files_skipped": "CSV files skipped: the lake already held the same bytes.",
    "csv_bytes": "CSV bytes uploaded to the lake.",
    "csv_rows": "CSV data rows in the files runs were given.",
    "csv_malformed_rows": "CSV rows whose field count differs from the header's (kept, counted).",
    "movies_planned": "TMDB movies planned.",
    "movies_written": "TMDB movies written to the lake.",
    "collections_planned": "TMDB collections planned.",
    "collections_written": "TMDB collections written to the lake.",
    "series_written": "TMDB TV series written to the lake (--media series).",
    "records_skipped": "TMDB records left out because TMDB no longer has them (404).",
    "records_failed": "TMDB records that failed after their retries (their batch is left for a rerun).",
    "records_unsaved": "TMDB records fetched whose batch was not whole when the run stopped (fetched again).",
    "batches_enqueued": "Batch messages sent to the queue by --enqueue.",
    "tmdb_files": "TMDB JSON files written to the lake.",
    "tmdb_bytes": "TMDB bytes written to the lake.",
    "tmdb_requests": "HTTP requests sent to TMDB, retries included.",
    "tmdb_throttled": "TMDB answers with status 429 (rate limited).",
    "tmdb_retries": "TMDB requests retried after a transient failure.",
    "changes_listed": "Ids TMDB's changes feed listed for the incremental runs' windows.",
    "ids_changed": "Genre members incremental runs fetched because they changed.",
    "ids_new": "Genre members incremental runs fetched because they are new to the genre.",
    "ids_unchanged_skipped": "Genre members incremental runs skipped as unchanged.",
    "ids_removed": "Genre members gone since the last complete run (left the genre or 404).",
    "full_run_requests": "Requests full runs of the same genres would have cost (compare tmdb_requests).",
}


def counts(report: RunReport) -> dict[str, Any]:
    """Every count of the run, under its one name."""
    uploaded = [f for f in report.csv if f.action == "uploaded"]
    csv_bytes = sum(f.bytes for f in uploaded)
    csv_seconds = sum(f.seconds for f in uploaded)
    t = report.tmdb
    return {
        "csv_files": len(report.csv),
        "csv_files_skipped": sum(f.action == "skipped" for f in report.csv),
        "csv_bytes": csv_bytes,
        # Over the files sent, from the start of each file's upload to its check.
        "csv_mb_per_s": round(csv_bytes / 1e6 / csv_seconds, 1) if csv_seconds else None,
        "csv_rows": sum(f.rows for f in report.csv),
        "csv_malformed_rows": sum(f.malformed_rows for f in report.csv),
        "movies_planned": t.planned,
        "movies_written": t.written,
        "collections_planned": t.collections_planned,
        "collections_written": t.collections_written,
        "series_written": t.series_written,
        # TMDB answered 404: counted and left out (movies and collections).
        "records_skipped": t.skipped,
        "records_failed": t.failed,
        "records_unsaved": t.unsaved,
        "batches_enqueued": t.batches_enqueued,
        "tmdb_files": t.files,
        "tmdb_bytes": t.bytes,
        "tmdb_requests": t.requests,
        "tmdb_throttled": t.throttled,
        "tmdb_retries": t.retries,
        **t.refresh_summary(),
    }


def log_summary(report: RunReport, settings: Settings) -> None:
    """The run's one canonical machine summary line."""
    log.info(
        "run_completed",
        lake=report.lake or settings.lake,
        date=settings.date.isoformat(),
        seconds=report.seconds,
        complete=report.complete,
        enqueued=report.enqueued,
        **counts(report),
    )


def _n(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def landed(report: RunReport, settings: Settings) -> str:
    """What is in the lake from this run: files, records and bytes per stage."""
    c = counts(report)
    parts = []
    sent = [f for f in report.csv if f.action == "uploaded"]
    if sent:
        stored = sum(f.bytes for f in sent)
        rows = sum(f.rows for f in sent)
        parts.append(f"{_n(len(sent), 'CSV file')} ({human_bytes(stored)}, {rows:,} rows)")
    if c["csv_files_skipped"]:
        # Not landed by this run: the lake held the same bytes already.
        parts.append(f"{_n(c['csv_files_skipped'], 'CSV file')} already in the lake (not sent again)")
    if (settings.job.uses_tmdb or settings.job.catalogue) and not report.enqueued:
        kinds = [f"{c['movies_written']:,} movies"] * ("movies" in settings.job.media)
        kinds += [f"{c['collections_written']:,} collections"] * (
            settings.job.collections and "movies" in settings.job.media
        )
        kinds += [f"{c['series_written']:,} series"] * ("series" in settings.job.media)
        records = " + ".join(kinds)
        parts.append(f"{records} in {_n(c['tmdb_files'], 'JSON file')} ({human_bytes(c['tmdb_bytes'])})")
    return " and ".join(parts) or "nothing new"


def human_line(report: RunReport, settings: Settings) -> str:
    """The last line of a command-line run."""
    lake = report.lake or settings.lake
    date = settings.date.isoformat()
    took = f"{report.seconds:,.1f} s"
    status = status_command(lake, date)
    if report.enqueued and report.complete:
        t = report.tmdb
        batches = _n(t.batches_enqueued, "batch", "batches")
        return (
            f"ingest: enqueued {batches} ({t.planned:,} movies planned) in {took}"
            f"{'; also ' + landed(report, settings) if report.csv else ''} -> {lake}; next: start queue "
            f"workers ({workers_command()}), then {status}"
        )
    if report.complete:
        return f"ingest: done in {took}: {landed(report, settings)} -> {lake}; next: {status}"
    unsaved = report.tmdb.unsaved
    lost = (
        f"; {unsaved:,} fetched records were not saved (their batch was not whole) and will be fetched again"
        if unsaved
        else ""
    )
    return (
        f"ingest: stopped ({report.stopped_because}) after {took}: saved {landed(report, settings)} "
        f"-> {lake}{lost}; rerun the same command to resume, or see {status}"
    )
