"""The streaming scan agrees with a naive whole-file reading, whatever the chunk size."""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from pathlib import Path

import pytest

from ingest.csv.beside import scan_beside
from ingest.csv.scan import CHUNK, KNOWN_HEADERS, SAMPLE_BYTES, read_header, scan_csv

HEADER = "|".join(KNOWN_HEADERS["series"]).encode()
ROW = "tt0000001|Cidade de Deus|Cidade de Deus|2002|\\N|130|Crime|8.6|800000|M|Zé|Zé Pequeno|1980|\\N|actor|tt1".encode()


def naive(data: bytes) -> tuple[int, list[int]]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    expected = lines[0].count(b"|")
    bad = []
    for no, line in enumerate(lines[1:], start=2):
        try:
            line.decode("utf-8")
            ok = line.count(b"|") == expected
        except UnicodeDecodeError:
            ok = False
        if not ok:
            bad.append(no)
    return len(lines) - 1, bad


CASES = {
    "clean": HEADER + b"\n" + (ROW + b"\n") * 40,
    "no_final_newline": HEADER + b"\n" + (ROW + b"\n") * 10 + ROW,
    "crlf": HEADER + b"\r\n" + (ROW + b"\r\n") * 10,
    "bom_and_bad_rows": b"\xef\xbb\xbf"
    + HEADER
    + b"\n"
    + ROW
    + b"\n"
    + b"a|b\n"
    + (ROW + b"\n") * 5
    + b"\n"
    + ROW.replace(b"Z\xc3\xa9", b"Z\xe9")
    + b"\n"
    + ROW
    + b"|x\n"
    + ROW,
    # Counts alone would pass these: one row a field short and one a field over, and a
    # two-byte character split by an ASCII byte whose halves would pair up without it.
    "compensating_fields": HEADER + b"\n" + ROW + b"|x\n" + ROW.replace(b"|M|", b"|") + b"\n" + ROW + b"\n",
    "split_character": HEADER + b"\n" + ROW + b"\n" + ROW.replace(b"Z\xc3\xa9", b"Z\xc3-\xa9") + b"\n",
    "header_only": HEADER + b"\n",
    "header_no_newline": HEADER,
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1000, 1 << 20])
def test_scan_matches_naive(tmp_path: Path, name: str, chunk: int) -> None:
    data = CASES[name]
    path = tmp_path / "series.csv"
    path.write_bytes(data)
    scan = scan_csv(path, chunk_size=chunk)
    rows, bad = naive(data)
    assert scan.size == len(data)
    assert scan.sha256 == hashlib.sha256(data).hexdigest()
    assert scan.rows == rows
    assert scan.first_malformed_lines == bad
    assert scan.malformed_rows == len(bad)
    assert scan.kind == "series" and scan.columns == 16


@pytest.mark.parametrize("seed", range(12))
def test_scan_matches_naive_on_damaged_files(tmp_path: Path, seed: int) -> None:
    """Rows damaged at random (a field added or lost, bytes that are not UTF-8, a character
    cut in half, a stray carriage return) are found exactly where a line-by-line reading
    finds them, whichever block of the scan they fall in."""
    rng = random.Random(seed)
    damage = [
        lambda r: r + b"|extra",
        lambda r: r.replace(b"|M|", b"|", 1),
        lambda r: r.replace(b"Z\xc3\xa9", b"Z\xe9", 1),
        lambda r: r.replace(b"Z\xc3\xa9", b"Z\xc3 \xa9", 1),
        lambda r: r.replace(b"Cidade", b"Cid\xff", 1),
        lambda r: r + b"\r",
    ]
    rows = [rng.choice(damage)(ROW) if rng.random() < 0.02 else ROW for _ in range(3000)]
    data = HEADER + b"\n" + b"\n".join(rows) + b"\n"
    path = tmp_path / "series.csv"
    path.write_bytes(data)
    rows_seen, bad = naive(data)
    assert bad, "the damage must hit some rows"
    for chunk in (997, 64 * 1024):
        scan = scan_csv(path, chunk_size=chunk)
        assert (scan.rows, scan.malformed_rows) == (rows_seen, len(bad))
        assert scan.first_malformed_lines == bad[:20]


def test_unknown_header_is_kept_with_its_column_count(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a|b|c\n1|2|3\n4|5\n")
    scan = scan_csv(path)
    assert scan.kind is None and scan.columns == 3
    assert scan.rows == 2 and scan.first_malformed_lines == [3]


def test_movies_header_with_the_real_typo_is_recognised(tmp_path: Path) -> None:
    real = (Path(__file__).resolve().parents[1] / "data" / "movies.csv").read_bytes()
    header = real.split(b"\n", 1)[0]
    assert b"tituloPincipal" in header
    path = tmp_path / "movies.csv"
    path.write_bytes(header + b"\n" + ROW + b"\n")
    scan = scan_csv(path)
    assert scan.kind == "movies" and scan.columns == 15 and scan.rows == 1
    # The same header with the typo corrected is some other file, not the movies file.
    path.write_bytes(header.replace(b"tituloPincipal", b"tituloPrincipal") + b"\n" + ROW + b"\n")
    assert scan_csv(path).kind is None


def test_headerless_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    path.write_bytes(ROW + b"\n" + ROW + b"\n")
    with pytest.raises(ValueError, match="not a header"):
        scan_csv(path)


async def test_the_scan_in_its_own_process_finds_what_scan_csv_finds(tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    bad_utf8 = ROW.replace("Zé".encode(), b"Z\xe9", 1)
    short = ROW.rsplit(b"|", 2)[0]
    path.write_bytes(HEADER + b"\n" + b"\n".join([ROW] * 5000 + [bad_utf8, short] + [ROW] * 300) + b"\n")
    beside = await scan_beside(path)
    assert beside == scan_csv(path)
    assert (beside.rows, beside.first_malformed_lines, beside.non_utf8_rows) == (5302, [5002, 5003], 1)
    assert beside.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


async def test_the_scan_in_its_own_process_refuses_a_headerless_file(tmp_path: Path) -> None:
    path = tmp_path / "movies.csv"
    path.write_bytes(ROW + b"\n" + ROW + b"\n")
    with pytest.raises(ValueError, match="not a header"):
        await scan_beside(path)
    with pytest.raises(OSError):
        await scan_beside(tmp_path / "gone.csv")


LONG = b"Z\xc3\xa9|" * 700  # 2,800 bytes of fields, a 2-byte character in each


@pytest.mark.parametrize("name", [*sorted(CASES), "long_rows"])
@pytest.mark.parametrize(("chunk", "long_line"), [(3, 5), (7, 64), (997, 100), (1 << 20, 1000)])
def test_long_lines_are_checked_piece_by_piece_as_a_whole_line_would_be(
    tmp_path: Path, name: str, chunk: int, long_line: int
) -> None:
    """Lines longer than ``long_line`` are never held whole, and what is found is the same."""
    long_rows = (
        HEADER
        + b"\n"
        + ROW
        + b"\n"
        + LONG
        + b"\n"
        + ROW
        + LONG.replace(b"|", b"")
        + b"\n"  # the right fields, but long
        + LONG[:-2]
        + b"\xc3"  # a character cut by the newline
        + b"\n"
        + LONG.replace(b"\xc3\xa9", b"\xe9", 1)
        + ROW
        + b"\n"
        + ROW
        + b"\n"
        + LONG
    )
    data = long_rows if name == "long_rows" else CASES[name]
    path = tmp_path / "series.csv"
    path.write_bytes(data)
    scan = scan_csv(path, chunk_size=chunk, long_line=long_line)
    rows, bad = naive(data)
    assert (scan.rows, scan.first_malformed_lines, scan.malformed_rows) == (rows, bad, len(bad))
    assert scan.kind == "series"
    if name == "long_rows":
        assert bad == [3, 5, 6, 8]
        assert scan.non_utf8_rows == 2
        assert scan.malformed_sample == LONG[:SAMPLE_BYTES].decode()


def test_a_file_of_one_long_line_is_refused_without_being_held(tmp_path: Path) -> None:
    """No newline in 6 MB: no header, refused, and the scan never held more than a few
    chunks of it (the old scan held the whole line, twice over, and took it for the header)."""
    path = tmp_path / "movies.csv"
    path.write_bytes(b"x" * (6 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="longer than 64 KiB"):
            scan_csv(path, with_hash=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * CHUNK
    with pytest.raises(ValueError, match="longer than 64 KiB"):
        read_header(path)


def test_a_very_long_row_is_counted_and_sampled_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    long_row = b"|".join([b"y" * (1 << 20)] * 12)  # 12 MiB, 12 fields of 16
    path.write_bytes(HEADER + b"\n" + ROW + b"\n" + long_row + b"\n" + ROW + b"\n")
    tracemalloc.start()
    try:
        scan = scan_csv(path, with_hash=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # About two chunks held, and the text of their decoding: bounded, whatever the row.
    assert peak < 6 * CHUNK
    assert (scan.rows, scan.first_malformed_lines, scan.non_utf8_rows) == (3, [3], 0)
    assert scan.malformed_sample == "y" * SAMPLE_BYTES
