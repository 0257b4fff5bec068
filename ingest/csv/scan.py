"""One streaming pass over a CSV file: SHA-256, row count and validation, without pandas.

The file is read in fixed-size chunks and never held whole, nor is any line: a line longer
than ``LONG_LINE`` is checked piece by piece as it streams past (its fields counted, its
UTF-8 decoded incrementally), so the scan's memory is bounded whatever the file. Validation
follows the Raw zone's rule: report, never rewrite. A row whose field count differs from
the header's, or whose bytes are not UTF-8, is counted and its line number kept (the first
few, and the first one's opening ``SAMPLE_BYTES`` as a sample); it does not stop the
upload. A first line longer than ``MAX_HEADER_BYTES`` is no header: the file is refused.
The known files (movies: 15 columns, series: 16, header names as in the real files,
``tituloPincipal`` typo included) are recognised by their header.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

# Small enough that a chunk, its lines and their decoded text stay a few MB (the scan's own
# process peaks near 25 MB with 1 MiB, 33 MB with 2 MiB, at the same CPU); large enough
# that the per-chunk Python overhead is noise.
CHUNK = 1024 * 1024
KEEP_LINES = 20
# A line longer than this is checked piece by piece instead of being held whole.
LONG_LINE = CHUNK
# The longest first line taken for a header (the known ones are about 200 bytes): a longer
# one is not a header, and the file is refused (exit 2) rather than its "header" stored.
MAX_HEADER_BYTES = 64 * 1024
# How much of the first malformed row the scan (and the manifest) keeps, in bytes.
SAMPLE_BYTES = 200
# How much lower the scan's own process runs than the upload's (``--nice``).
NICE = 10

KNOWN_HEADERS: dict[str, tuple[str, ...]] = {
    "movies": (
        "id",
        "tituloPincipal",
        "tituloOriginal",
        "anoLancamento",
        "tempoMinutos",
        "genero",
        "notaMedia",
        "numeroVotos",
        "generoArtista",
        "personagem",
        "nomeArtista",
        "anoNascimento",
        "anoFalecimento",
        "profissao",
        "titulosMaisConhecidos",
    ),
    "series": (
        "id",
        "tituloPincipal",
        "tituloOriginal",
        "anoLancamento",
        "anoTermino",
        "tempoMinutos",
        "genero",
        "notaMedia",
        "numeroVotos",
        "generoArtista",
        "personagem",
        "nomeArtista",
        "anoNascimento",
        "anoFalecimento",
        "profissao",
        "titulosMaisConhecidos",
    ),
}


@dataclass(slots=True)
class CsvScan:
    size: int = 0
    sha256: str = ""
    # The full-object CRC64NVME S3 keeps for the object (base64), set by the stage; "" if none.
    crc64nvme: str = ""
    header: tuple[str, ...] = ()
    # "movies", "series", or None for a file with another header.
    kind: str | None = None
    rows: int = 0
    malformed_rows: int = 0
    first_malformed_lines: list[int] = field(default_factory=list)
    non_utf8_rows: int = 0
    # The first malformed row's opening SAMPLE_BYTES (bytes that are not UTF-8 escaped).
    malformed_sample: str = ""

    @property
    def columns(self) -> int:
        return len(self.header)


# Every byte value but "|" and "\n": what bytes.translate deletes to leave a block's shape.
_NOT_SHAPE = bytes(b for b in range(256) if b not in b"|\n")


class _OpenLine:
    """A line longer than ``LONG_LINE`` not yet ended: what its pieces so far add up to."""

    __slots__ = ("decoder", "head", "non_utf8", "pipes")

    def __init__(self) -> None:
        self.pipes = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.non_utf8 = False
        # Its first SAMPLE_BYTES, the sample kept should the row be malformed.
        self.head = b""

    def add(self, piece: bytes) -> None:
        self.pipes += piece.count(b"|")
        if len(self.head) < SAMPLE_BYTES:
            self.head += piece[: SAMPLE_BYTES - len(self.head)]
        if not self.non_utf8:
            try:
                self.decoder.decode(piece)
            except UnicodeDecodeError:
                self.non_utf8 = True


class _Checker:
    """Counts fields per line of whole-line blocks, remembering where rows go wrong."""

    __slots__ = ("expected_pipes", "good", "line", "open", "scan")

    def __init__(self, scan: CsvScan, expected_pipes: int) -> None:
        self.scan = scan
        self.expected_pipes = expected_pipes
        # Number of the last line already checked (the header is line 1).
        self.line = 1
        # Well-formed rows' shape, grown as blocks need it and sliced per block.
        self.good = b""
        # A long line being checked piece by piece (``piece``), until its end (``close``).
        self.open: _OpenLine | None = None

    def piece(self, piece: bytes) -> None:
        """Bytes of a line that has not ended yet (no newline in ``piece``)."""
        if self.open is None:
            self.open = _OpenLine()
        self.open.add(piece)

    def resume(self, data: bytes) -> bytes:
        """``data`` goes on with the open line: its bytes up to the first newline are the
        line's (all of them if there is none); returns what follows that newline."""
        end = data.find(b"\n")
        if end < 0:
            self.piece(data)
            return b""
        self.close(data[:end])
        return data[end + 1 :]

    def close(self, rest: bytes) -> None:
        """The end of the open line (``rest``: its bytes up to the newline, or the file's end)."""
        line = self.open or _OpenLine()
        self.open = None
        line.add(rest)
        if not line.non_utf8:
            try:
                line.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                line.non_utf8 = True
        self.scan.non_utf8_rows += line.non_utf8
        if line.non_utf8 or line.pipes != self.expected_pipes:
            self._malformed(self.line + 1, line.head)
        self.scan.rows += 1
        self.line += 1

    def _malformed(self, number: int, raw: bytes) -> None:
        self.scan.malformed_rows += 1
        if len(self.scan.first_malformed_lines) < KEEP_LINES:
            self.scan.first_malformed_lines.append(number)
        if not self.scan.malformed_sample:
            self.scan.malformed_sample = raw[:SAMPLE_BYTES].decode("utf-8", "backslashreplace")

    def block(self, block: bytes) -> None:
        # Fast path: deleting every byte but "|" and newlines leaves the block's shape, and
        # a block of well-formed rows has exactly one shape: its rows are counted from the
        # shape (a tenth of the block), and the comparison runs at memcmp speed. Any other
        # block takes the per-line path below, so what is reported does not change.
        shape = block.translate(None, _NOT_SHAPE)
        n = shape.count(b"\n") + 1
        if shape == self._good_shape(n):
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                self.scan.rows += n
                self.line += n
                return
        self._per_line(block)

    def _good_shape(self, n: int) -> bytes:
        size = n * (self.expected_pipes + 1) - 1
        if len(self.good) < size:
            row = b"|" * self.expected_pipes + b"\n"
            self.good = row * (size // len(row) + 1)
        return self.good[:size]

    def _per_line(self, block: bytes) -> None:
        lines = block.split(b"\n")
        n = len(lines)
        # bytes.count through map runs at C speed: ~0.1 s per million rows.
        counts = list(map(bytes.count, lines, repeat(b"|")))
        bad: set[int] = set()
        if counts.count(self.expected_pipes) != n:
            bad = {i for i, c in enumerate(counts) if c != self.expected_pipes}
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            for i, raw in enumerate(lines):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    self.scan.non_utf8_rows += 1
                    bad.add(i)
        # In line order, so the lines kept are the first ones whatever made them wrong.
        for i in sorted(bad):
            self._malformed(self.line + 1 + i, lines[i])
        self.scan.rows += n
        self.line += n


def hash_file(path: Path, *, chunk_size: int = 8 * 1024 * 1024) -> tuple[int, str, str]:
    """Size, SHA-256 (hex) and CRC64NVME (base64, as S3 shows it) of ``path``."""
    # Imported here: the scan's own process (``python -m ingest.csv.scan``) never needs it.
    from awscrt.checksums import crc64nvme

    digest = hashlib.sha256()
    crc = 0
    size = 0
    with path.open("rb", buffering=0) as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
            crc = crc64nvme(chunk, crc)
            size += len(chunk)
    return size, digest.hexdigest(), base64.b64encode(crc.to_bytes(8, "big")).decode()


def read_header(path: Path) -> tuple[str, ...]:
    """The column names of ``path``'s first line; ``ValueError`` when it is not a header."""
    with path.open("rb") as fh:
        line = fh.readline(MAX_HEADER_BYTES + 2).rstrip(b"\n")
    scan = CsvScan()
    _read_header(scan, line)
    return scan.header


def scan_csv(
    path: Path, *, chunk_size: int = CHUNK, with_hash: bool = True, long_line: int = LONG_LINE
) -> CsvScan:
    """Validate (and hash) ``path`` in one pass, holding at most about ``long_line`` +
    ``chunk_size`` bytes of it. Raises ``ValueError`` when there is no header."""
    scan = CsvScan()
    digest = hashlib.sha256() if with_hash else None
    checker: _Checker | None = None
    carry = b""
    with path.open("rb", buffering=0) as fh:
        while chunk := fh.read(chunk_size):
            if digest:
                digest.update(chunk)
            scan.size += len(chunk)
            data = carry + chunk if carry else chunk
            carry = b""
            if checker is not None and checker.open is not None:
                data = checker.resume(data)
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = _hold(scan, checker, data, long_line)
                continue
            block, carry = data[:cut], data[cut + 1 :]
            if checker is None:
                header_line, _, block = block.partition(b"\n")
                checker = _Checker(scan, _read_header(scan, header_line))
                if not block and b"\n" not in data[:cut]:
                    continue
            checker.block(block)
    if checker is None:
        checker = _Checker(scan, _read_header(scan, carry))
        carry = b""
    if checker.open is not None:  # a long last line without a final newline
        checker.close(carry)
    elif carry:  # a last line without a final newline
        checker.block(carry)
    scan.sha256 = digest.hexdigest() if digest else ""
    return scan


def _hold(scan: CsvScan, checker: _Checker | None, data: bytes, long_line: int) -> bytes:
    """``data``, the start of a line not ended yet: what to carry into the next chunk. A
    line longer than ``long_line`` is checked piece by piece instead (and a first line
    longer than a header can be is refused)."""
    if checker is None:
        if len(data) > MAX_HEADER_BYTES:
            _read_header(scan, data)  # raises: too long for a header
        return data
    if len(data) > long_line:
        checker.piece(data)
        return b""
    return data


_DATA_FIELD = re.compile(r"^(\\N|[-+]?\d[\d.,:/-]*|tt\d{5,}|nm\d{5,})$")


def _looks_like_data(name: str) -> bool:
    """A header holds column names: not blank, not a null, a number or an IMDb id."""
    return not name.strip() or bool(_DATA_FIELD.match(name.strip()))


def _read_header(scan: CsvScan, line: bytes) -> int:
    if len(line.rstrip(b"\r")) > MAX_HEADER_BYTES:
        raise ValueError(
            f"its first line is longer than {MAX_HEADER_BYTES // 1024} KiB, "
            "too long for a header of column names"
        )
    text = line.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r").decode("utf-8", "replace")
    names = tuple(text.split("|"))
    if not text or any(_looks_like_data(n) for n in names):
        raise ValueError(f"its first line is not a header of column names: {text[:80]!r}")
    scan.header = names
    scan.kind = next((k for k, h in KNOWN_HEADERS.items() if h == names), None)
    return len(names) - 1


def _main(argv: list[str]) -> int:
    """``python -m ingest.csv.scan FILE [--no-hash] [--nice]``: the scan as JSON on stdout
    (``ingest.csv.beside`` runs it on a core of its own); a failure as JSON too, exit 1.
    ``--nice``: at a lower CPU priority (``os.nice``), so that where the cores are
    contended the upload beside it goes first."""
    if "--nice" in argv[1:]:
        with contextlib.suppress(OSError):
            os.nice(NICE)
    try:
        found = scan_csv(Path(argv[0]), with_hash="--no-hash" not in argv[1:])
    except ValueError as exc:
        print(json.dumps({"error": "value", "message": str(exc)}))
        return 1
    except OSError as exc:
        print(json.dumps({"error": "os", "errno": exc.errno, "message": exc.strerror or str(exc)}))
        return 1
    print(json.dumps(dataclasses.asdict(found)))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
