"""One set of count names: the run record (``run_completed``, the Lambda's summary),
docs/contract.md's list, the service's ``/metrics`` page and the Grafana dashboard are held
to one another here, and each count is on the page with the run's figure (failed records
and malformed rows included). The queue's lag gauge says now: 0 once nothing is held."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ingest.queue.counters import QueueCounters
from ingest.reports.counts import CsvFileResult, RunReport
from ingest.reports.summary import COUNTERS, counts
from workers.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "docs" / "contract.md"
DASHBOARD = ROOT / "deploy" / "grafana" / "movies-lake-ingest.json"


def _contract_counts() -> list[str]:
    text = CONTRACT.read_text()
    listed = text[text.index("<!-- counters -->") : text.index("<!-- /counters -->")]
    return re.findall(r"`([a-z_]+)`", listed)


def _report() -> RunReport:
    report = RunReport()
    report.csv.append(CsvFileResult("a.csv", "k", 42, 10, "0" * 64, "uploaded", malformed_rows=2))
    t = report.tmdb
    t.failed, t.written, t.unsaved, t.files, t.bytes = 3, 97, 5, 2, 1000
    return report


def _page(report: RunReport, queue: QueueCounters | None = None) -> str:
    metrics = Metrics(queue_mode=queue is not None)
    metrics.run_started(report)
    metrics.queue = queue
    return metrics.render()


def _dashboard_series() -> set[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    return {name for e in exprs for name in re.findall(r"\b(ingest_[a-z0-9_]+)\b", e)}


def test_the_contract_the_run_record_the_page_and_the_dashboard_name_the_same_counts() -> None:
    listed = _contract_counts()
    assert listed == list(COUNTERS)
    report = _report()
    record = counts(report)
    assert set(listed) <= set(record)
    page = _page(report, QueueCounters())
    counters = set(re.findall(r"^# TYPE (\S+) counter$", page, re.MULTILINE))
    assert {f"ingest_{n}_total" for n in listed} <= counters
    # Each at the run's figure: the contract's name finds the run's number.
    for name in listed:
        value = record[name]
        assert f"ingest_{name}_total {value}" in page.splitlines(), name
    assert "ingest_records_failed_total 3" in page.splitlines()
    assert "ingest_csv_malformed_rows_total 2" in page.splitlines()
    # The dashboard draws every count, and names no series the page does not have.
    families = set(re.findall(r"^# TYPE (\S+) \S+$", page, re.MULTILINE))
    shown = _dashboard_series()
    assert {f"ingest_{n}_total" for n in listed} <= shown
    assert sorted(shown - families) == []


def test_the_queue_lag_is_the_oldest_message_held_now_and_0_when_none_is() -> None:
    queue = QueueCounters()
    queue.holding["m1"] = 0.0  # sent at the epoch: decades old now
    lag = re.compile(r"^ingest_queue_oldest_message_age_seconds (\S+)$", re.MULTILINE)
    found = lag.search(_page(RunReport(), queue))
    assert found and float(found.group(1)) > 1e9
    del queue.holding["m1"]
    found = lag.search(_page(RunReport(), queue))
    assert found and float(found.group(1)) == 0
