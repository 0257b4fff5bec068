"""The service's Prometheus metrics, in the text exposition format (version 0.0.4).

Hand-written rather than prometheus_client: the service has a dozen series, all of them
read at scrape time from plain counters and from the live ``RunReport`` of the run in
progress. prometheus_client would need a custom collector for exactly that, and brings
a process-global registry that tests then have to reset; the format itself is a few
lines of text.

Counters are cumulative over the life of the process: finished runs are folded into
``_finished`` and the run in progress is added on top, so a counter never goes down
while a run moves it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Literal

from ingest.queue.counters import QueueCounters
from ingest.report import RunReport

RunOutcome = Literal["succeeded", "failed", "stopped"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUEUE_STATES = ("starting", "idle", "consuming", "paused", "draining")


@dataclass(slots=True)
class _Totals:
    tmdb_requests: int = 0
    tmdb_throttled: int = 0
    tmdb_retries: int = 0
    movies_written: int = 0
    collections_written: int = 0
    records_skipped: int = 0
    tmdb_bytes: int = 0
    csv_files: int = 0
    csv_bytes: int = 0
    # The refresh: genres run in each mode, and how incremental runs sorted the members.
    genres_full: int = 0
    genres_incremental: int = 0
    changes_listed: int = 0
    ids_changed: int = 0
    ids_new: int = 0
    ids_unchanged: int = 0
    ids_removed: int = 0
    full_run_requests: int = 0

    @classmethod
    def of(cls, report: RunReport) -> _Totals:
        t = report.tmdb
        uploaded = [f for f in report.csv if f.action == "uploaded"]
        return cls(
            tmdb_requests=t.requests,
            tmdb_throttled=t.throttled,
            tmdb_retries=t.retries,
            movies_written=t.written,
            collections_written=t.collections_written,
            records_skipped=t.skipped,
            tmdb_bytes=t.bytes,
            csv_files=len(uploaded),
            csv_bytes=sum(f.bytes for f in uploaded),
            genres_full=sum(m == "full" for m in t.refresh.values()),
            genres_incremental=sum(m == "incremental" for m in t.refresh.values()),
            changes_listed=t.changes_listed,
            ids_changed=t.changed,
            ids_new=t.new,
            ids_unchanged=t.unchanged_skipped,
            ids_removed=t.removed,
            full_run_requests=t.full_run_requests,
        )

    def __add__(self, other: _Totals) -> _Totals:
        return _Totals(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


class Metrics:
    __slots__ = (
        "_current",
        "_finished",
        "_last",
        "draining",
        "last_error",
        "last_failure_ts",
        "last_success_ts",
        "next_run_ts",
        "queue",
        "queue_mode",
        "runs",
    )

    def __init__(self, *, queue_mode: bool = False) -> None:
        # What every finished run counted, so counters survive from one run to the next.
        self._finished = _Totals()
        # The report of the run in progress, read live; None between runs.
        self._current: RunReport | None = None
        # The last finished run's report: what /metrics says its refresh was.
        self._last: RunReport | None = None
        self.runs: dict[RunOutcome, int] = {"succeeded": 0, "failed": 0, "stopped": 0}
        self.last_success_ts: float | None = None
        self.last_failure_ts: float | None = None
        # The class name of the last failure (never its message, which may name a path).
        self.last_error: str | None = None
        self.next_run_ts: float | None = None
        # The queue consumer's counters (``workers --queue``); None for the scheduled service,
        # and for a queue worker until its start-up checks pass.
        self.queue: QueueCounters | None = None
        # A queue worker (``workers --queue``) reports its own state, not a scheduled run's.
        self.queue_mode = queue_mode
        # Set on shutdown while the work in progress finishes.
        self.draining = False

    @property
    def running(self) -> bool:
        """A run (scheduled) or a batch (queue worker) is going on now."""
        if self.queue_mode:
            return self.queue is not None and self.queue.in_flight > 0
        return self._current is not None

    @property
    def queue_state(self) -> str | None:
        """A queue worker's state: starting (checks not passed), idle, consuming, paused (a
        dependency lost: receiving nothing until it is back) or draining."""
        if not self.queue_mode:
            return None
        if self.queue is None:
            return "draining" if self.draining else "starting"
        if self.draining:
            return "draining"
        if self.queue.paused:
            return "paused"
        return "consuming" if self.queue.in_flight else "idle"

    def run_started(self, report: RunReport) -> None:
        self._current = report

    def run_finished(self, outcome: RunOutcome, *, error: str | None = None) -> None:
        if self._current is not None:
            self._finished = self._finished + _Totals.of(self._current)
            self._last, self._current = self._current, None
        self.runs[outcome] += 1
        now = time.time()
        if outcome == "succeeded":
            self.last_success_ts = now
        elif outcome == "failed":
            self.last_failure_ts = now
            self.last_error = error

    def _refresh_samples(self) -> list[tuple[str, float]]:
        report = self._current or self._last
        return _refresh_labels(report) if report else []

    def render(self) -> str:
        t = self._finished + (_Totals.of(self._current) if self._current else _Totals())
        families: list[tuple[str, str, str, list[tuple[str, float]]]] = [
            ("ingest_tmdb_requests_total", "counter",
             "HTTP requests sent to TMDB, retries included.", [("", t.tmdb_requests)]),
            ("ingest_tmdb_throttled_total", "counter",
             "TMDB answers with status 429 (rate limited).", [("", t.tmdb_throttled)]),
            ("ingest_tmdb_retries_total", "counter",
             "TMDB requests retried after a transient failure.", [("", t.tmdb_retries)]),
            ("ingest_records_written_total", "counter", "TMDB records written to the lake.",
             [('{kind="movie"}', t.movies_written),
              ('{kind="collection"}', t.collections_written)]),
            ("ingest_records_skipped_total", "counter",
             "TMDB records left out because TMDB no longer has them (404).",
             [("", t.records_skipped)]),
            ("ingest_refresh_genres_total", "counter",
             "Genres fetched, by refresh mode (full: every movie; incremental: what changed).",
             [('{mode="full"}', t.genres_full), ('{mode="incremental"}', t.genres_incremental)]),
            ("ingest_refresh_ids_total", "counter",
             "Genre members as incremental runs sorted them: changed or new (fetched), "
             "unchanged (skipped), removed (left the genre or 404).",
             [('{outcome="changed"}', t.ids_changed), ('{outcome="new"}', t.ids_new),
              ('{outcome="unchanged_skipped"}', t.ids_unchanged),
              ('{outcome="removed"}', t.ids_removed)]),
            ("ingest_refresh_changes_listed_total", "counter",
             "Ids TMDB's changes feed listed for the incremental runs' windows.",
             [("", t.changes_listed)]),
            ("ingest_full_run_requests_total", "counter",
             "Requests full runs of the same genres would have cost (compare "
             "ingest_tmdb_requests_total).", [("", t.full_run_requests)]),
            ("ingest_refresh_info", "gauge",
             "The refresh of each genre in the run in progress, or else the last run.",
             self._refresh_samples()),
            ("ingest_csv_files_written_total", "counter", "CSV files uploaded to the lake.",
             [("", t.csv_files)]),
            ("ingest_bytes_written_total", "counter", "Bytes written to the lake.",
             [('{stage="tmdb"}', t.tmdb_bytes), ('{stage="csv"}', t.csv_bytes)]),
            ("ingest_runs_total", "counter",
             "Finished runs by outcome (stopped: ended early by a shutdown).",
             [(f'{{outcome="{k}"}}', v) for k, v in self.runs.items()]),
            ("ingest_run_in_progress", "gauge",
             "1 while a run is going on (a queue worker: while a batch is).",
             [("", 1 if self.running else 0)]),
            ("ingest_last_success_timestamp_seconds", "gauge",
             "Unix time the last successful run finished (0: never).",
             [("", self.last_success_ts or 0)]),
            ("ingest_last_failure_timestamp_seconds", "gauge",
             "Unix time the last failed run finished (0: never).",
             [("", self.last_failure_ts or 0)]),
            ("ingest_last_failure_info", "gauge", "The error class of the last failed run.",
             [(f'{{error="{_label(self.last_error)}"}}', 1)] if self.last_error else []),
            ("ingest_next_run_timestamp_seconds", "gauge",
             "Unix time of the next scheduled run (0: none).", [("", self.next_run_ts or 0)]),
        ]  # fmt: skip
        if self.queue_state is not None:
            families.append(
                ("ingest_queue_worker_state", "gauge",
                 "The queue worker's state (1 for the current one).",
                 [(f'{{state="{s}"}}', int(s == self.queue_state)) for s in QUEUE_STATES])
            )  # fmt: skip
        if self.queue is not None:
            families += _queue_families(self.queue)
        out: list[str] = []
        for name, kind, help_, samples in families:
            out += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
            out += [f"{name}{labels} {_num(value)}" for labels, value in samples]
        return "\n".join(out) + "\n"


def _refresh_labels(report: RunReport) -> list[tuple[str, float]]:
    t = report.tmdb
    return [
        (f'{{genre="{_label(g)}",mode="{_label(m)}",window="{_label(t.windows.get(g, ""))}"}}', 1)
        for g, m in sorted(t.refresh.items())
    ]


def _queue_families(q: QueueCounters) -> list[tuple[str, str, str, list[tuple[str, float]]]]:
    return [
        ("ingest_queue_batches_total", "counter",
         "Batch messages by what became of them (received; done: deleted, the batch in the lake; "
         "failed: left for redelivery; redelivered: received more than once; dead_lettered: failed "
         "at the queue's maxReceiveCount; given_back: returned at once, a dependency lost).",
         [('{state="received"}', q.received), ('{state="done"}', q.done),
          ('{state="failed"}', q.failed), ('{state="redelivered"}', q.redelivered),
          ('{state="dead_lettered"}', q.dead_lettered), ('{state="given_back"}', q.given_back)]),
        ("ingest_queue_batches_in_flight", "gauge", "Batches being fetched now.", [("", q.in_flight)]),
        ("ingest_queue_oldest_message_age_seconds", "gauge",
         "Age of the oldest message received so far (sent to received).", [("", q.oldest_age_s)]),
    ]  # fmt: skip


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _label(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")
