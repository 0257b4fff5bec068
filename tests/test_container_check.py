"""The parts of ``dev.py container`` (scripts/container_check.py) that need no podman: the
one line that says what the machine lacks, which probe says the service is ready (over
real HTTP), and the lake count that judges "every movie exactly once". The check itself
installs system packages and is run by hand, never by ``dev.py test``.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scripts.container_kit import machine_lacks, needs_line
from scripts.container_service import readiness
from scripts.lake_count import count

GB = 10**9


def test_a_machine_with_everything_lacks_nothing() -> None:
    assert machine_lacks(system="linux", is_root=True, has=lambda _: True, free_bytes=50 * GB) == []


def test_the_needs_line_names_each_thing_the_machine_lacks() -> None:
    lacks = machine_lacks(system="darwin", is_root=False, has=lambda cmd: cmd == "runc", free_bytes=1 * GB)
    line = needs_line(lacks)
    assert "\n" not in line
    assert line.startswith("dev.py container needs Linux as root with apt-get")
    assert "lacks: Linux (this is darwin), root (run it with sudo), " in line
    assert "apt-get to install podman, debootstrap (or install them by hand)" in line
    assert "disk space (1.0 GB free)" in line


def test_missing_packages_are_no_lack_where_apt_get_can_install_them() -> None:
    has = {"apt-get", "runc"}.__contains__
    assert machine_lacks(system="linux", is_root=True, has=has, free_bytes=10 * GB) == []


@contextmanager
def _server(answers: dict[str, int]) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = answers.get(self.path, 404)
            body = json.dumps({"path": self.path}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # An image from before /readyz: its 404 sends the check to /healthz.
        ({"/healthz": 200}, ("/healthz", 200)),
        # Not ready yet (the lake, TMDB or the queue): /readyz's 503 is the answer, even
        # though /healthz says the process is alive.
        ({"/readyz": 503, "/healthz": 200}, ("/readyz", 503)),
        ({"/readyz": 200, "/healthz": 200}, ("/readyz", 200)),
    ],
)
def test_readiness_asks_readyz_and_falls_back_to_healthz_only_on_404(
    answers: dict[str, int], expected: tuple[str, int]
) -> None:
    with _server(answers) as base:
        assert readiness(base) == expected


def _batch(path: Path, ids: list[int], extra: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(json.dumps({"id": i}).encode() + b"\n" for i in ids) + extra)


def test_the_lake_count_sees_duplicates_bad_lines_and_temporary_files(tmp_path: Path) -> None:
    day = tmp_path / "Raw" / "TMDB" / "JSON" / "Movies" / "2026" / "12" / "02"
    _batch(day / "crime-00001.json", [1, 2, 3])
    _batch(day / "crime-00002.json", [3, 4], extra=b'{"id": 5')  # 3 again; a cut line
    _batch(day / "war-00001.json", [4, 6])
    _batch(day / ".war-00002.json.tmp-1a2b3c4d", [7])
    _batch(tmp_path / "Raw" / "TMDB" / "JSON" / "Collections" / "2026" / "12" / "02" / "war-00001.json", [9])
    found = count(str(tmp_path))
    assert found["records"] == {"crime": 5, "war": 2}
    assert found["distinct"] == {"crime": 4, "war": 2}
    assert found["ids"] == 5
    assert found["bad_lines"] == 1
    assert found["temp_files"] == ["Raw/TMDB/JSON/Movies/2026/12/02/.war-00002.json.tmp-1a2b3c4d"]
    assert sum(found["owners"].values()) == 5
