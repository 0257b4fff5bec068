"""What a person at a terminal sees: ``python -m ingest`` with stderr on a pseudo-terminal,
against the TMDB stand-in, read back through a small terminal model. A log line never
shares a screen line with a progress bar, and a bar's final state shows once."""

from __future__ import annotations

import asyncio
import errno
import io
import os
import pty
import re
from pathlib import Path

from ingest.reports.progress import Progress
from ingest.standin import Catalog, Standin
from tests.helpers import standin_env, start_cli
from tests.test_csv_stage import DATE, make_csv

WAR = 10752
BAR = re.compile(r"\(\s*\d+\.\d%\)")  # "( 18.1%)": the bar with a known total
LOG = re.compile(r"\[(debug|info|warning|error|critical)\s*\]")  # the console renderer's level


def screen_lines(raw: bytes) -> list[str]:
    """The lines a terminal would show: "\\r" moves to column 0, "ESC[K" erases to the end
    of the line, text overwrites what is under the cursor."""
    lines = []
    for physical in raw.decode("utf-8", "replace").split("\n"):
        cells: list[str] = []
        col = 0
        for token in re.split(r"(\r|\x1b\[K)", physical):
            if token == "\r":
                col = 0
            elif token == "\x1b[K":
                del cells[col:]
            else:
                cells[col : col + len(token)] = list(token)
                col += len(token)
        lines.append("".join(cells))
    return lines


async def run_on_a_pty(tmp_path: Path, tmdb_url: str, *args: str) -> tuple[int, bytes]:
    """Run the CLI with stderr on a new pseudo-terminal; return its exit code and output."""
    env = standin_env(tmdb_url, COLUMNS="160")
    parent, child = pty.openpty()
    loop = asyncio.get_running_loop()
    seen = bytearray()
    closed = asyncio.Event()

    def readable() -> None:
        try:
            data = os.read(parent, 65536)
        except OSError as exc:  # EIO: every holder of the pty's other end has closed it
            if exc.errno != errno.EIO:
                raise
            data = b""
        if data:
            seen.extend(data)
        else:
            loop.remove_reader(parent)
            closed.set()

    loop.add_reader(parent, readable)
    try:
        lake = str(tmp_path / "lake")
        proc = await start_cli(
            "--lake",
            lake,
            "--date",
            DATE,
            *args,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=child,
        )
        os.close(child)
        await asyncio.wait_for(closed.wait(), 120)
        rc = await proc.wait()
    finally:
        loop.remove_reader(parent)
        os.close(parent)
    return rc, bytes(seen)


async def test_log_lines_never_share_a_line_with_the_progress_bar(tmp_path: Path) -> None:
    catalog = Catalog.synthetic({WAR: 450}, seed=3)
    movies = make_csv(tmp_path / "movies.csv", 300_000)
    async with Standin(catalog).serve() as url:
        rc, raw = await run_on_a_pty(tmp_path, url, "--csv", str(movies), "--genre", "war", "--rate", "500")
    lines = screen_lines(raw)
    assert rc == 0, "\n".join(lines[-20:])

    assert any("batch_written" in line for line in lines)  # logs came while the bar was up
    glued = [line for line in lines if BAR.search(line) and LOG.search(line)]
    assert glued == []
    bars = [line for line in lines if BAR.search(line)]
    # One line per bar (the CSV copy, the war movies), each in its final state.
    assert len(bars) == 2, bars
    assert all("(100.0%)" in line for line in bars), bars
    # The request rate shown never exceeds the limit the run keeps (500 a second).
    shown = [int(n) for n in re.findall(rb"(\d+) req/s", raw)]
    assert shown and max(shown) <= 500, shown
    # The crawl's bar says what is safe in the lake, not only what was fetched.
    assert any("war movies: saved 450 · fetched 450/450" in line for line in bars), bars
    # The last line says what landed where, and the next command.
    last = [line for line in lines if line.strip()][-1]
    assert last.startswith("ingest: done in ") and " -m ingest status --lake " in last
    # The copy is one chunk: drawn once by its one advance, not again by close().
    assert raw.count(b"movies.csv -> lake:") == 1
    # Each bar ends with one newline: the next screen line is a log line, not a blank.
    for bar in bars:
        after = lines[lines.index(bar) + 1]
        assert LOG.search(after), (bar, after)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_counts_saved_apart_from_done() -> None:
    out = _Terminal()
    bar = Progress("crime movies", 1500, out=out)
    bar.save(0)
    bar.advance(436)
    bar.save(400)
    bar.redraw()
    assert "crime movies: saved 400 · fetched 436/1,500 ( 29.1%)" in out.getvalue()


def test_a_bar_without_a_total_shows_its_status_and_count() -> None:
    out = _Terminal()
    with Progress("war discover", None, unit="pages", out=out) as bar:
        bar.status("12 pages, 2 windows")
        for _ in range(3):
            bar.advance(1)
    shown = screen_lines(out.getvalue().encode())
    assert len(shown) == 2 and shown[1] == ""  # one line, one newline
    assert shown[0].startswith("war discover: 12 pages, 2 windows  3 pages  ")
    assert not BAR.search(shown[0])  # no percentage without a total


def test_a_bar_off_a_terminal_writes_nothing() -> None:
    out = io.StringIO()
    with Progress("war movies", 10, out=out) as bar:
        bar.advance(10)
        bar.status("done")
    assert out.getvalue() == ""
