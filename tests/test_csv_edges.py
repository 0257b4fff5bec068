"""Stage 1's hard edges, through ``python -m ingest`` as a real process and a local lake: a
file that grows mid-copy, what a killed run left behind, where the blame goes for a bad
lake or a bad file name, and the manifest's history across reruns."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import run_cli
from tests.test_csv_stage import DATE, KEY, MIB, make_csv

SHA_SIDE_FILE = f"_ingest/objects/{KEY}.sha256"
MANIFEST = "_ingest/2026/11/28/csv/movies.csv.manifest.json"
ROW = "tt9999999|Novo|Novo|2024|90|Crime|7.0|10|F|\\N|Zoë|1990|\\N|actress|tt1\n".encode()

# The CLI with one change: right after the local lake has copied the first chunk of the
# source, the source grows by a row, as if an export were still writing it. The lake reads
# in chunks of part_size (5 MiB here), so the file of 12 MiB is still being copied then.
GROW_DURING_COPY = f"""
import sys
from ingest.cli import main
from ingest.lake.local import LocalLake

copy = LocalLake._copy

def growing_copy(self, key, path, sha256, on_bytes):
    grown = []

    def on_chunk(n):
        if not grown:
            grown.append(True)
            with path.open("ab") as fh:
                fh.write({ROW!r})
        if on_bytes:
            on_bytes(n)

    copy(self, key, path, sha256, on_chunk)

LocalLake._copy = growing_copy
sys.exit(main(sys.argv[1:]))
"""


def ingest(tmp_path: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """This file's command line, through the kit's runner: small parts, the test's date."""
    config = tmp_path / "config.toml"
    if not config.exists():
        config.write_text("[upload]\npart_size_mib = 5\nparts_in_flight = 3\n")
    return asyncio.run(run_cli("--config", str(config), "--date", DATE, *args, cwd=tmp_path, code=code))


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def temp_files(lake: Path) -> list[str]:
    return sorted(p.name for p in lake.rglob("*") if ".tmp-" in p.name)


def test_a_file_that_grows_during_the_copy_leaves_the_earlier_object_and_its_hash(tmp_path: Path) -> None:
    src = make_csv(tmp_path / "movies.csv", 12 * MIB)
    lake = tmp_path / "lake"
    assert ingest(tmp_path, "--csv", str(src), "--lake", str(lake)).returncode == 0
    good = src.read_bytes()

    with src.open("ab") as fh:  # a new export: uploaded again, and grows while it is
        fh.write(ROW)
    proc = ingest(tmp_path, "--csv", str(src), "--lake", str(lake), code=GROW_DURING_COPY)

    assert proc.returncode == 2
    assert "changed while it was being ingested" in last_line(proc)
    assert src.stat().st_size == len(good) + 2 * len(ROW)  # the hook did run
    assert (lake / KEY).read_bytes() == good
    assert (lake / SHA_SIDE_FILE).read_text() == sha(good)
    assert temp_files(lake) == []


def test_a_killed_runs_temp_file_is_removed_and_a_live_writers_is_not(tmp_path: Path) -> None:
    src = make_csv(tmp_path / "movies.csv", 100_000)
    lake = tmp_path / "lake"
    folder = (lake / KEY).parent
    folder.mkdir(parents=True)
    dead = folder / ".movies.csv.tmp-0badf00d"
    dead.write_bytes(b"half a file from a run killed with SIGKILL")
    live = folder / ".movies.csv.tmp-1ive1ive"
    with live.open("wb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a writer in another process holds it
        proc = ingest(tmp_path, "--csv", str(src), "--lake", str(lake))
        assert proc.returncode == 0, proc.stderr
        assert temp_files(lake) == [live.name]
    live.unlink()

    # A rerun that finds the object in place (and so writes no data) still sweeps.
    dead.write_bytes(b"left by a run killed while re-uploading")
    proc = ingest(tmp_path, "--csv", str(src), "--lake", str(lake))
    assert proc.returncode == 0 and '"csv_skipped"' in proc.stderr
    assert temp_files(lake) == []
    assert (lake / KEY).read_bytes() == src.read_bytes()


@pytest.mark.parametrize("name", ["..csv", "...csv", ".csv", "two words.csv", "x..csv"])
def test_a_file_name_that_makes_no_lake_folder_is_refused(tmp_path: Path, name: str) -> None:
    src = make_csv(tmp_path / name, 1000)
    lake = tmp_path / "lake"
    proc = ingest(tmp_path, "--csv", str(src), "--lake", str(lake))
    assert proc.returncode == 2
    line = last_line(proc)
    assert "makes no lake folder" in line and "rename the file" in line
    assert not lake.exists()


def test_a_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "movies.csv"
    os.mkfifo(fifo)
    proc = ingest(tmp_path, "--csv", str(fifo), "--lake", str(tmp_path / "lake"))
    assert proc.returncode == 2
    line = last_line(proc)
    assert "is not a regular file" in line and "empty" not in line


def test_a_lake_that_cannot_be_created_is_exit_2_and_not_worth_a_rerun(tmp_path: Path) -> None:
    src = make_csv(tmp_path / "movies.csv", 1000)
    proc = ingest(tmp_path, "--csv", str(src), "--lake", "/proc/no-lake-here")
    assert proc.returncode == 2
    line = last_line(proc)
    assert "lake directory" in line and "cannot be created or written" in line
    assert "rerun" not in line


def test_a_lake_under_a_regular_file_blames_the_lake(tmp_path: Path) -> None:
    src = make_csv(tmp_path / "movies.csv", 1000)
    (tmp_path / "somefile").write_text("not a folder")
    proc = ingest(tmp_path, "--csv", str(src), "--lake", str(tmp_path / "somefile" / "lake"))
    assert proc.returncode == 2
    line = last_line(proc)
    assert line.startswith(f"ingest: lake {tmp_path}/somefile/lake") and "a file" in line
    assert str(src) not in line


def manifest(lake: Path) -> dict[str, Any]:
    data = orjson.loads((lake / MANIFEST).read_bytes())
    assert isinstance(data, dict)
    return data


def test_reruns_keep_the_manifests_record_of_the_upload(tmp_path: Path) -> None:
    src = make_csv(tmp_path / "movies.csv", 50_000)
    lake = tmp_path / "lake"
    args = ("--csv", str(src), "--lake", str(lake))
    assert ingest(tmp_path, *args).returncode == 0
    first = manifest(lake)
    assert ingest(tmp_path, *args).returncode == 0
    second = manifest(lake)

    assert second["action"] == "skipped"
    assert second["uploaded_at"] == first["uploaded_at"] == first["history"][0]["at"]
    assert second["uploaded_by"] == first["uploaded_by"] == first["history"][0]["run"]
    assert [h["action"] for h in second["history"]] == ["uploaded", "skipped"]
    assert second["history"][1]["run"] != second["uploaded_by"]
    assert {h["sha256"] for h in second["history"]} == {sha(src.read_bytes())}

    with src.open("ab") as fh:
        fh.write(ROW)
    assert ingest(tmp_path, *args).returncode == 0
    third = manifest(lake)
    assert [h["action"] for h in third["history"]] == ["uploaded", "skipped", "uploaded"]
    assert third["uploaded_by"] == third["history"][2]["run"] != first["uploaded_by"]
    assert third["history"][2]["bytes"] == src.stat().st_size == third["bytes"]


def test_the_history_is_bounded_and_an_old_upload_time_survives(tmp_path: Path) -> None:
    src = make_csv(tmp_path / "movies.csv", 50_000)
    lake = tmp_path / "lake"
    args = ("--csv", str(src), "--lake", str(lake))
    assert ingest(tmp_path, *args).returncode == 0
    planted = manifest(lake)
    planted["uploaded_at"] = "2026-01-01T00:00:00+00:00"
    entry = {"action": "skipped", "at": "2026-01-02T00:00:00+00:00", "sha256": planted["sha256"]}
    planted["history"] = [dict(entry, bytes=n) for n in range(60)]
    (lake / MANIFEST).write_bytes(orjson.dumps(planted))

    assert ingest(tmp_path, *args).returncode == 0
    after = manifest(lake)
    assert after["uploaded_at"] == "2026-01-01T00:00:00+00:00"
    assert len(after["history"]) == 50
    assert after["history"][0]["bytes"] == 11  # the oldest ten of sixty-one dropped
    assert after["history"][-1]["action"] == "skipped" and after["history"][-1]["bytes"] == src.stat().st_size


def test_a_file_of_one_very_long_line_is_exit_2_and_leaves_no_manifest(tmp_path: Path) -> None:
    """3 MB without a newline: no header (the old scan took the whole line for one, held
    it in memory and wrote it into the manifest, and reported the file ok)."""
    src = tmp_path / "movies.csv"
    src.write_bytes(b"abc " * (3 << 18))
    lake = tmp_path / "lake"
    proc = ingest(tmp_path, "--csv", str(src), "--lake", str(lake))
    assert proc.returncode == 2
    line = last_line(proc)
    assert str(src) in line and "longer than 64 KiB" in line and "header" in line
    assert not (lake / MANIFEST).exists()


def test_a_very_long_malformed_row_leaves_a_small_manifest_with_a_sample(tmp_path: Path) -> None:
    src = make_csv(tmp_path / "movies.csv", 50_000)
    rows = src.read_bytes().count(b"\n")
    with src.open("ab") as fh:
        fh.write(b"no fields here " * (1 << 18) + b"\n" + ROW)  # a 4 MB row, then a good one
    lake = tmp_path / "lake"
    proc = ingest(tmp_path, "--csv", str(src), "--lake", str(lake))
    assert proc.returncode == 0, proc.stderr
    assert (lake / MANIFEST).stat().st_size < 8192
    found = manifest(lake)
    assert (found["rows"], found["malformed_rows"]) == (rows + 1, 1)
    assert found["first_malformed_lines"] == [rows + 1]
    assert found["malformed_sample"] == ("no fields here " * 14)[:200]
    assert found["header"][0] == "id" and found["columns"] == 15
