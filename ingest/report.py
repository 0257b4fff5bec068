"""What a run did, counted as it goes: read by the summary line, the Lambda's answer and
the service's /metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class CsvFileResult:
    path: str
    key: str
    bytes: int
    rows: int
    sha256: str
    # "uploaded", or "skipped" when the lake already held the same bytes.
    action: str
    malformed_rows: int = 0
    first_malformed_lines: list[int] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(slots=True)
class TmdbStats:
    planned: int = 0
    written: int = 0
    # Movies or collections TMDB answered 404 for: counted and left out.
    skipped: int = 0
    failed: int = 0
    files: int = 0
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    collections_planned: int = 0
    collections_written: int = 0
    bytes: int = 0


@dataclass(slots=True)
class RunReport:
    csv: list[CsvFileResult] = field(default_factory=list)
    tmdb: TmdbStats = field(default_factory=TmdbStats)
    seconds: float = 0.0
    # False when a stop (SIGTERM, Lambda deadline) ended the run before all work was done.
    complete: bool = True
    stopped_because: str | None = None
