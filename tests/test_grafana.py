"""deploy/grafana/movies-lake-ingest.json is built on the service's /metrics: every series
a query names is one that ``python -m workers --queue`` exports (read from a live
service's page, against ``dev.py up --moto``), with the labels it has, and every series
the service exports is on the dashboard."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.standin import free_port
from tests.helpers import eventually, popen_cli
from tests.up_kit import Up, dev_up_moto, up_env

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "movies-lake-ingest.json"
_SERIES = re.compile(r"\b(ingest_[a-z0-9_]+)\b")
# Labels Prometheus adds to every scraped series.
_SCRAPE_LABELS = {"instance", "job"}


def _queries(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    found += [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return found


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


@pytest.fixture(scope="module")
def up() -> Iterator[Up]:
    with dev_up_moto() as running:
        yield running


@pytest.fixture(scope="module")
def metrics_page(up: Up, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """/metrics of ``python -m workers --queue``, consuming the queue dev.py up made."""
    port = free_port()
    cwd = tmp_path_factory.mktemp("workers")
    proc = popen_cli("--queue", "--port", str(port), module="workers", cwd=cwd, env=up_env() | up.exports)
    try:
        yield _get_page(f"http://127.0.0.1:{port}/metrics", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def _get_page(url: str, proc: subprocess.Popen[str]) -> str:
    def page_with_the_queue() -> str | None:
        assert proc.poll() is None, proc.communicate()[1]
        with urllib.request.urlopen(url, timeout=5) as resp:
            page = str(resp.read().decode())
        # The queue's series come once its consumer has started (after the start-up checks).
        return page if "ingest_queue_batches_total" in page else None

    return asyncio.run(eventually(page_with_the_queue, f"the queue's series on {url}", every_s=0.2))


def exported(page: str) -> dict[str, set[str]]:
    """Each series family on the page, with the label names its samples carry."""
    families: dict[str, set[str]] = {}
    for name in re.findall(r"^# TYPE (\S+) \S+$", page, re.MULTILINE):
        families[name] = set()
    labels: dict[str, set[str]] = defaultdict(set)
    for name, inner in re.findall(r"^([a-z_]+)\{([^}]*)\} ", page, re.MULTILINE):
        labels[name] |= set(re.findall(r'(\w+)="', inner))
    return {name: labels[name] for name in families}


def test_every_query_names_a_series_the_service_exports(dashboard: dict[str, Any], metrics_page: str) -> None:
    series = exported(metrics_page)
    assert "ingest_queue_batches_total" in series and len(series) >= 20
    named = {name for expr in _queries(dashboard) for name in _SERIES.findall(expr)}
    assert sorted(named - set(series)) == []
    # And the dashboard shows every series the service exports.
    assert sorted(set(series) - named) == []


def test_every_label_a_query_uses_is_one_the_series_has(dashboard: dict[str, Any], metrics_page: str) -> None:
    series = exported(metrics_page)
    wrong = []
    for expr in _queries(dashboard):
        for name, inner in re.findall(r"(ingest_[a-z0-9_]+)\{([^}]*)\}", expr):
            used = set(re.findall(r"(\w+)=~?\"", inner)) - _SCRAPE_LABELS
            if series.get(name) and not used <= series[name]:
                wrong.append(f"{name}: {sorted(used - series[name])}")
        for by in re.findall(r"by \(([^)]*)\)\s*\((?:rate|increase)\((ingest_[a-z0-9_]+)", expr):
            grouped = {g.strip() for g in by[0].split(",")}
            if series.get(by[1]) and not grouped <= series[by[1]]:
                wrong.append(f"{by[1]} by {sorted(grouped)}")
    assert wrong == []


def test_the_dashboard_is_one_grafana_can_import(dashboard: dict[str, Any]) -> None:
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for p in panels:
        box = p["gridPos"]
        assert 0 <= box["x"] and box["x"] + box["w"] <= 24, p["title"]
        if p["type"] != "row":
            assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
            assert p["datasource"]["uid"] == "${datasource}"
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "instance"}
