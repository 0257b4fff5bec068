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
from typing import Literal

from ingest.queue.counters import QueueCounters
from ingest.reports.counts import RunReport
from ingest.reports.summary import COUNTERS, counts

RunOutcome = Literal["succeeded", "failed", "stopped"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUEUE_STATES = ("starting", "idle", "consuming", "paused", "draining")


class _Totals(dict[str, float]):
    """The run counts (``ingest.reports.summary.COUNTERS``) and the genres by refresh mode."""

    @classmethod
    def of(cls, report: RunReport) -> _Totals:
        said = counts(report)
        totals = cls({name: said[name] for name in COUNTERS})
        modes = list(report.tmdb.refresh.values())
        totals["genres_full"] = modes.count("full")
        totals["genres_incremental"] = modes.count("incremental")
        return totals

    def __add__(self, other: dict[str, float]) -> _Totals:
        return _Totals({k: self.get(k, 0) + other.get(k, 0) for k in self.keys() | other.keys()})


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
        # One counter per run count, named as the run record and the contract name it.
        families: list[tuple[str, str, str, list[tuple[str, float]]]] = [
            (f"ingest_{name}_total", "counter", help_, [("", t.get(name, 0))])
            for name, help_ in COUNTERS.items()
        ]
        families += [
            ("ingest_refresh_genres_total", "counter",
             "Genres fetched, by refresh mode (full: every movie; incremental: what changed).",
             [('{mode="full"}', t.get("genres_full", 0)),
              ('{mode="incremental"}', t.get("genres_incremental", 0))]),
            ("ingest_refresh_info", "gauge",
             "The refresh of each genre in the run in progress, or else the last run.",
             self._refresh_samples()),
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
    out = []
    for name, mode in sorted(t.refresh.items()):
        # The run names a dataset ``war`` (movies) or ``war-politics series``.
        genre, _, media = name.partition(" ")
        labels = f'genre="{_label(genre)}",media="{_label(media or "movies")}",mode="{_label(mode)}"'
        out.append((f'{{{labels},window="{_label(t.windows.get(name, ""))}"}}', 1.0))
    return out


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
         "Age now of the oldest message this worker holds (since it was sent); 0 when it holds none.",
         [("", round(q.oldest_age_s(), 3))]),
    ]  # fmt: skip


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _label(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")
