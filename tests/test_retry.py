"""The shared retry pieces with a fake clock: the INFO summary's pace and the TMDB breaker."""

from __future__ import annotations

from structlog.testing import capture_logs

from ingest.remote.retry import RetrySummary
from ingest.tmdb.breaker import Reachability


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_retries_are_summarised_at_most_every_interval() -> None:
    clock = Clock()
    summary = RetrySummary("tmdb", every_s=10.0, clock=clock)
    with capture_logs() as logs:
        summary.note("429", "429, status_code 25")  # the first retry shows at once
        for _ in range(5):
            clock.now += 1.0
            summary.note("503", "503")
        clock.now += 5.0  # 10 s after the first line
        summary.note("ClientOSError", "ClientOSError: reset")
        summary.note("503", "503 again")
        summary.flush()
        summary.flush()  # nothing new: no line
    lines = [(e["retries"], e["by_reason"], e["last_reason"]) for e in logs]
    assert lines == [
        (1, {"429": 1}, "429, status_code 25"),
        (6, {"503": 5, "ClientOSError": 1}, "ClientOSError: reset"),
        (1, {"503": 1}, "503 again"),
    ]
    assert all(e["event"] == "requests_retried" and e["log_level"] == "info" for e in logs)


def test_the_breaker_needs_failures_in_a_row_that_last() -> None:
    clock = Clock()
    reach = Reachability(failures=3, after_s=5.0, clock=clock)
    with capture_logs() as logs:
        for _ in range(10):  # many at once: a blip, not yet an outage
            reach.note_connection_failure("http://tmdb/3", "refused")
        assert not reach.down.is_set()
        reach.note_answer()  # an answer starts the count again
        clock.now += 6.0
        reach.note_connection_failure("http://tmdb/3", "refused")
        assert not reach.down.is_set()
        clock.now += 5.0
        reach.note_connection_failure("http://tmdb/3", "refused")
        assert not reach.down.is_set()  # lasted long enough, but only 2 in a row
        reach.note_connection_failure("http://tmdb/3", "refused")
        assert reach.down.is_set() and reach.answered
        reach.note_connection_failure("http://tmdb/3", "refused")
    assert [e["event"] for e in logs] == ["tmdb_unreachable"]
    assert logs[0]["failures_in_a_row"] == 3
