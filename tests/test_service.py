"""The long-running service as a real process: ``python -m workers`` in a directory of its
own (config.toml, a CSV file, a local lake), the fake TMDB in another process, and real
HTTP and signals between them. Also its schedule and its metrics page, directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.errors import ConfigError
from ingest.reports.counts import CsvFileResult, RunReport
from ingest.standin import STANDIN_TOKEN, Catalog, free_port, standin_process
from tests.helpers import eventually, popen_cli, run_cli, standin_env
from workers.metrics import Metrics
from workers.schedule import Schedule

ROOT = Path(__file__).resolve().parent.parent
WAR = 10752
CSV = b'id,title\n1,Ran\n2,Das Boot\n3,"Paths of Glory, 1957"\n'


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_for(what: str, probe: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    return asyncio.run(eventually(probe, what, within_s=timeout_s, every_s=0.1))


def _page_with(svc: Service, text: str) -> str | None:
    page = svc.metrics()
    return page if text in page else None


def _metric(page: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", page, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


@pytest.fixture
def fake_tmdb() -> Iterator[Callable[..., str]]:
    """Start the fake TMDB in its own process; return its URL."""
    with contextlib.ExitStack() as stack:

        def start(*args: str) -> str:
            return stack.enter_context(standin_process("--seed", "1", *args)).url

        yield start


class Service:
    """``python -m workers`` started in ``home`` with ``config.toml`` written there."""

    def __init__(self, home: Path, config: str, tmdb_url: str, grace_s: float = 20) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (home / "config.toml").write_text(
            config + f'\n[service]\nhost = "127.0.0.1"\nport = {self.port}\n'
            'schedule = "03:00"\nrun_at_start = true\n'
            f"grace_s = {grace_s}\n"
        )
        (home / "data").mkdir(exist_ok=True)
        (home / "data" / "films.csv").write_bytes(CSV)
        self.log = (home / "service.log").open("wb")
        env = standin_env(tmdb_url)
        self.proc = popen_cli(module="workers", cwd=home, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path: str) -> tuple[int, str]:
        return _get(self.url + path)

    def metrics(self) -> str:
        return self.get("/metrics")[1]

    def events(self) -> list[dict[str, Any]]:
        lines = (self.home / "service.log").read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.startswith(b"{")]

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(config: str, tmdb_url: str, grace_s: float = 20) -> Service:
        svc = Service(tmp_path, config, tmdb_url, grace_s)
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.close()


def _lake_records(lake: Path) -> dict[str, list[dict[str, Any]]]:
    """Every TMDB file in the lake, parsed line by line (a half-written file fails here)."""
    return {
        path.relative_to(lake).as_posix(): [orjson.loads(x) for x in path.read_bytes().splitlines()]
        for path in sorted((lake / "Raw" / "TMDB").rglob("*.json"))
    }


def test_a_scheduled_run_is_served_counted_and_the_service_stays_up(
    service: Callable[..., Service], fake_tmdb: Callable[..., str], tmp_path: Path
) -> None:
    url = fake_tmdb("--war", "150")
    svc = service(
        '[job]\nlake = "lake"\ncsv = ["data/films.csv"]\ngenres = ["war"]\n'
        "collections = false\n[tmdb]\nrate_per_s = 300\n",
        url,
    )
    status, body = _wait_for("/healthz", lambda: svc.get("/healthz"))
    assert status == 200 and json.loads(body)["status"] == "ok"

    page = _wait_for("a finished run", lambda: _page_with(svc, 'outcome="succeeded"} 1'))
    assert _metric(page, "ingest_movies_written_total") == 150
    assert _metric(page, "ingest_csv_files_total") == 1
    assert _metric(page, "ingest_csv_bytes_total") == len(CSV)
    assert _metric(page, "ingest_tmdb_bytes_total") > 0
    assert _metric(page, "ingest_tmdb_requests_total") >= 150
    assert _metric(page, "ingest_tmdb_throttled_total") == 0
    assert _metric(page, "ingest_run_in_progress") == 0
    assert _metric(page, "ingest_last_success_timestamp_seconds") > time.time() - 60
    assert _metric(page, "ingest_last_failure_timestamp_seconds") == 0
    # The next tick is tomorrow's (or today's) 03:00 UTC.
    next_ts = _metric(page, "ingest_next_run_timestamp_seconds")
    assert dt.datetime.fromtimestamp(next_ts, dt.UTC).time() == dt.time(3, 0)

    health = json.loads(svc.get("/healthz")[1])
    assert health["last_run"]["outcome"] == "succeeded"
    assert health["last_run"]["movies_written"] == 150
    assert health["running"] is False and health["next_run"].endswith("03:00:00+00:00")
    today = dt.datetime.now(dt.UTC).date()
    stored = tmp_path / "lake" / "Raw/Local/CSV/Films" / today.strftime("%Y/%m/%d") / "films.csv"
    assert stored.read_bytes() == CSV

    assert svc.stop() == 0
    stopped = svc.events()[-1]
    assert stopped["event"] == "service_stopped"
    # A JSON object, not the text of a Python dict (a secret is registered, so masking ran).
    assert stopped["runs"] == {"succeeded": 1, "failed": 0, "stopped": 0}
    assert STANDIN_TOKEN not in (tmp_path / "service.log").read_text()


def test_sigterm_mid_run_finishes_the_batches_in_flight_and_exits_0(
    service: Callable[..., Service], fake_tmdb: Callable[..., str], tmp_path: Path
) -> None:
    # About 10 s of work at 60 requests/s: a SIGTERM after the first batch lands mid-run.
    url = fake_tmdb("--war", "600", "--latency-ms", "30")
    svc = service(
        '[job]\nlake = "lake"\ncsv = []\ngenres = ["war"]\ncollections = false\n'
        "[tmdb]\nrate_per_s = 60\nconcurrency = 8\n",
        url,
    )
    _wait_for(
        "the first batch",
        lambda: _metric(svc.metrics(), "ingest_movies_written_total") >= 100,
    )
    assert _metric(svc.metrics(), "ingest_run_in_progress") == 1
    assert svc.stop() == 0

    events = svc.events()
    names = [e["event"] for e in events]
    assert "shutdown_requested" in names and "run_cancelled" not in names
    finished = next(e for e in events if e["event"] == "run_finished")
    assert finished["outcome"] == "stopped"
    assert finished["stopped_because"] == "sigterm"

    lake = tmp_path / "lake"
    assert not [p for p in lake.rglob("*") if ".tmp-" in p.name], "a temporary file was left"
    files = _lake_records(lake)
    ids = [r["id"] for records in files.values() for r in records]
    assert 100 <= len(ids) < 600, "the run was neither stopped mid-way nor let go on"
    assert len(ids) == len(set(ids)) == finished["movies_written"]
    assert set(ids) <= Catalog.synthetic({WAR: 600}, seed=1).genre_ids(WAR)
    # Every file holds a whole batch: 100 records (nothing half-written, no batch cut).
    assert all(len(records) == 100 for records in files.values()), {k: len(v) for k, v in files.items()}


def test_a_run_that_outlasts_the_grace_period_is_cancelled_whole(
    service: Callable[..., Service], fake_tmdb: Callable[..., str], tmp_path: Path
) -> None:
    # A batch takes about 10 s here; the grace period is 1 s.
    url = fake_tmdb("--war", "300", "--latency-ms", "800")
    svc = service(
        '[job]\nlake = "lake"\ncsv = []\ngenres = ["war"]\ncollections = false\n[tmdb]\nconcurrency = 8\n',
        url,
        grace_s=1,
    )
    _wait_for("requests in flight", lambda: _metric(svc.metrics(), "ingest_tmdb_requests_total") > 10)
    started = time.monotonic()
    assert svc.stop() == 0
    assert time.monotonic() - started < 8
    events = svc.events()
    assert any(e["event"] == "run_cancelled" for e in events)
    assert next(e for e in events if e["event"] == "run_finished")["outcome"] == "stopped"
    lake = tmp_path / "lake"
    assert not [p for p in lake.rglob("*") if ".tmp-" in p.name]
    assert _lake_records(lake) == {}


def test_a_failed_run_is_logged_and_counted_and_the_service_stays_up(
    service: Callable[..., Service], fake_tmdb: Callable[..., str]
) -> None:
    url = fake_tmdb("--war", "10")
    svc = service('[job]\nlake = "lake"\ncsv = ["data/missing.csv"]\ngenres = ["war"]\n', url)
    page = _wait_for("a failed run", lambda: _page_with(svc, 'outcome="failed"} 1'))
    assert _metric(page, "ingest_last_failure_timestamp_seconds") > 0
    assert 'ingest_last_failure_info{error="InputError"} 1' in page
    status, body = svc.get("/healthz")
    assert status == 200 and json.loads(body)["last_run"]["error"] == "InputError"
    assert any(e["event"] == "run_failed" for e in svc.events())
    assert svc.stop() == 0


def test_a_bad_schedule_or_missing_token_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[service]\nschedule = "25:00"\n')
    result = asyncio.run(run_cli(module="workers", cwd=tmp_path))
    assert result.returncode == 2
    assert "schedule '25:00'" in result.stderr and "Traceback" not in result.stderr

    (tmp_path / "config.toml").write_text('[job]\ngenres = ["war"]\n')
    result = asyncio.run(run_cli(module="workers", cwd=tmp_path))
    assert result.returncode == 2 and "TMDB_READ_ACCESS_TOKEN" in result.stderr


# The schedule and the metrics page, directly ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("03:00", "2026-11-28T02:59:59", "2026-11-28T03:00:00"),
        ("03:00", "2026-11-28T03:00:00", "2026-11-29T03:00:00"),
        ("3:05", "2026-12-31T23:00:00", "2027-01-01T03:05:00"),
        ("0 3 * * 1-5", "2026-11-28T12:00:00", "2026-11-30T03:00:00"),  # Saturday -> Monday
        ("*/15 * * * *", "2026-11-28T12:07:00", "2026-11-28T12:15:00"),
        ("0 0 L * *", "2027-02-10T00:00:00", "2027-02-28T00:00:00"),
    ],
)
def test_the_next_tick(text: str, now: str, expected: str) -> None:
    moment = dt.datetime.fromisoformat(now).replace(tzinfo=dt.UTC)
    tick = Schedule.parse(text).next_after(moment)
    assert tick == dt.datetime.fromisoformat(expected).replace(tzinfo=dt.UTC)
    # The same instant given in another zone is the same tick.
    assert Schedule.parse(text).next_after(moment.astimezone(dt.timezone(dt.timedelta(hours=-3)))) == tick


@pytest.mark.parametrize("text", ["25:00", "3h", "0 3 * *", "0 3 * * * *", "61 * * * *", ""])
def test_a_bad_schedule_says_how_to_fix_it(text: str) -> None:
    with pytest.raises(ConfigError, match=r"\[service\] schedule"):
        Schedule.parse(text)


def test_metrics_are_read_live_and_never_go_down() -> None:
    metrics = Metrics()
    first = RunReport()
    metrics.run_started(first)
    first.tmdb.requests, first.tmdb.written, first.tmdb.throttled = 10, 7, 2
    assert _metric(metrics.render(), "ingest_tmdb_requests_total") == 10
    assert _metric(metrics.render(), "ingest_run_in_progress") == 1
    metrics.run_finished("succeeded")

    second = RunReport()
    metrics.run_started(second)
    second.tmdb.requests = 3
    second.csv.append(CsvFileResult("a.csv", "k", 42, 2, "0" * 64, "uploaded"))
    page = metrics.render()
    assert _metric(page, "ingest_tmdb_requests_total") == 13
    assert _metric(page, "ingest_movies_written_total") == 7
    assert _metric(page, "ingest_tmdb_throttled_total") == 2
    assert _metric(page, "ingest_csv_bytes_total") == 42
    metrics.run_finished("failed", error='Lake"Error')
    page = metrics.render()
    assert _metric(page, 'ingest_runs_total{outcome="failed"}') == 1
    assert 'ingest_last_failure_info{error="Lake\\"Error"} 1' in page
    # Every sample line belongs to a family declared just before it.
    declared = set(re.findall(r"^# TYPE (\S+) (?:counter|gauge)$", page, re.MULTILINE))
    for line in page.splitlines():
        if not line.startswith("#"):
            assert line.split("{")[0].split(" ")[0] in declared
