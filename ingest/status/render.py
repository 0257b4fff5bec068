"""How ``python -m ingest status`` shows a date: aligned tables for a person, one JSON
object for a script. Both come from the same ``DateStatus``; neither reads the lake."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ingest.state.oversized import oversized_notes
from ingest.status.hints import QueueView, commands, hint
from ingest.status.rows import CsvStatus, DateStatus, TmdbStatus

_CSV_HEADER = ("csv", "state", "bytes", "rows", "malformed", "sha256")
_TMDB_HEADER = (
    "tmdb",
    "state",
    "refresh",
    "planned",
    "written",
    "not_found",
    "batches_missing",
    "removed",
    "gap",
    "cursor",
    "gap_reason",
)
# Columns aligned left; every other column is a number or a short word, aligned right.
_LEFT = {"csv", "tmdb", "state", "refresh", "sha256", "cursor", "gap_reason"}


# Why a day asked to be incremental was fetched in full, as a person reads it.
FULL_BECAUSE = {
    "append_changed": "the sub-resources appended ([tmdb] append) differ from the last complete run's",
    "first_run": "no complete run of it before",
    "limit": "a --limit run is never incremental",
    "gap_too_long": "its last complete run is older than max_incremental_gap_days",
    "cursor_after_date": "its last complete run is of a later date",
    "previous_plan_missing": "the last complete run's plan is gone",
    "changes_feed_overflow": "TMDB's changes feed listed more than it serves for a day",
}
# Reasons too ordinary for a line of their own (the refresh column says "full").
_SAID = {"first_run", "limit"}


def render_text(status: DateStatus, queue: QueueView | None = None) -> str:
    lines = [f"lake {status.lake}  date {status.date.isoformat()}"]
    if status.csv:
        lines += ["", *_table(_CSV_HEADER, [_csv_row(c) for c in status.csv])]
    if status.tmdb:
        lines += ["", *_table(_TMDB_HEADER, [_tmdb_row(t) for t in status.tmdb])]
        lines += [
            f"{t.genre} {t.kind}: {t.oversized:,} record(s) over the file cap, set apart "
            f"(see {oversized_notes(t.dataset, status.date)})"
            for t in status.tmdb
            if t.oversized
        ]
        lines += [
            f"{t.genre} {t.kind}: fetched in full: {FULL_BECAUSE.get(t.full_because, t.full_because)}"
            for t in status.tmdb
            if t.full_because and t.full_because not in _SAID
        ]
    lines += ["", verdict(status, queue)]
    return "\n".join(lines) + "\n"


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def verdict(status: DateStatus, queue: QueueView | None = None) -> str:
    date = status.date.isoformat()
    if status.empty and not status.runs:
        return f"empty: nothing planned or written for {date} in {status.lake}"
    if status.complete:
        return f"complete: everything planned for {date} is in the lake"
    batches = sum(len(t.missing_batches) for t in status.tmdb)
    files = sum(not c.complete for c in status.csv)
    unplanned = [f"{t.genre} {t.kind}" for t in status.tmdb if t.unplanned]
    unfinished = [f"{t.genre} {t.kind}" for t in status.tmdb if t.state == "finishing"]
    absent = [_count(batches, "TMDB batch", "TMDB batches")] * bool(batches)
    absent += [_count(files, "CSV file")] * bool(files)
    parts = [f"{' and '.join(absent)} not in the lake"] if absent else []
    if unplanned:
        parts.append(f"asked for and never planned: {', '.join(unplanned)}")
    if unfinished:
        parts.append(f"every batch in but the run's last step not taken: {', '.join(unfinished)}")
    if not parts:
        parts.append("nothing was written by the date's run")
    return f"incomplete: {'; '.join(parts)}; {hint(status, queue)}"


def render_json(status: DateStatus, queue: QueueView | None = None) -> str:
    body: dict[str, Any] = {
        "lake": status.lake,
        "date": status.date.isoformat(),
        "complete": status.complete,
        "empty": status.empty,
        "runs": [
            {
                "run_id": r.run_id,
                "entry": r.entry,
                "started_at": r.started_at,
                "outcome": r.outcome,
                "genres": list(r.genres),
                "movies": r.movies,
                "collections": r.collections,
                "csv": list(r.csv),
                "refresh": r.refresh,
                "limit": r.limit,
                "enqueue": r.enqueue,
                "catalogue": r.catalogue,
                "include_adult": r.include_adult,
            }
            for r in status.runs
        ],
        "hint": None if status.complete else hint(status, queue),
        # The shell commands the hint names, each runnable as it is, in order.
        "commands": [] if status.complete else commands(status),
        # Read from SQS after --enqueue, when INGEST_QUEUE_URL is set; the dead-letter
        # count is of every date (SQS cannot count by body).
        "queue": None
        if queue is None
        else {
            "waiting": queue.waiting,
            "in_flight": queue.in_flight,
            "dead_lettered": queue.dead_lettered,
            "dead_letter_arn": queue.dead_letter_arn,
        },
        "csv": [
            {
                "file": c.file,
                "key": c.key,
                "state": c.state,
                "bytes": c.bytes,
                "rows": c.rows,
                "malformed_rows": c.malformed_rows,
                "hash_verified": c.complete,
            }
            for c in status.csv
        ],
        "tmdb": [
            {
                "genre": t.genre,
                "kind": str(t.kind),
                "complete": t.complete,
                "refresh": None if t.unplanned else t.refresh,
                "asked_refresh": next((r.refresh for r in status.runs if t.dataset in r.datasets()), None),
                "planned": t.planned,
                "written": t.written,
                "not_found": t.not_found,
                "batches": t.batches,
                "batches_missing": len(t.missing_batches),
                "missing_batches": list(t.missing_batches),
                "removed": t.removed,
                "gap": t.gap,
                "gap_reason": t.gap_reason,
                "cursor": t.cursor,
                "plan_id": t.plan_id,
                "planned_yet": not t.unplanned,
                "state": t.state,
                "oversized": t.oversized,
                "full_because": t.full_because,
            }
            for t in status.tmdb
        ],
    }
    return orjson.dumps(body).decode() + "\n"


def _csv_row(c: CsvStatus) -> list[str]:
    sha = {"ok": "verified", "mismatch": "MISMATCH"}.get(c.state, "-")
    return [c.file, c.state, _n(c.bytes), _n(c.rows), _n(c.malformed_rows), sha]


def _tmdb_row(t: TmdbStatus) -> list[str]:
    return [
        f"{t.genre} {t.kind}",
        t.state,
        f"asked {t.refresh}" if t.unplanned else t.refresh,
        _n(t.planned),
        _n(t.written),
        _n(t.not_found),
        _n(len(t.missing_batches)),
        _n(t.removed),
        _n(t.gap),
        t.cursor or "-",
        t.gap_reason or "-",
    ]


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _table(header: Sequence[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [list(header), *rows]) for i in range(len(header))]
    out = []
    for row in [list(header), *rows]:
        cells = [
            cell.ljust(w) if name in _LEFT else cell.rjust(w)
            for name, cell, w in zip(header, row, widths, strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return out
