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
    # The checksum the object is recorded by: its SHA-256 (hex), else S3's full-object
    # CRC64NVME (base64); the other is "".
    sha256: str
    # "uploaded", or "skipped" when the lake already held the same bytes.
    action: str
    malformed_rows: int = 0
    first_malformed_lines: list[int] = field(default_factory=list)
    seconds: float = 0.0
    crc64nvme: str = ""


@dataclass(slots=True)
class TmdbStats:
    planned: int = 0
    written: int = 0
    # Movies or collections TMDB answered 404 for: counted and left out.
    skipped: int = 0
    failed: int = 0
    # Records over a file's cap, set apart (ingest.state.oversized).
    oversized: int = 0
    files: int = 0
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    collections_planned: int = 0
    # Records fetched whose batch was not whole when the run ended (a stop, a kill):
    # nothing of a batch is kept until all of it is in, so a rerun fetches them again.
    unsaved: int = 0
    # --enqueue: batch messages sent (the movies and collections they hold are planned).
    batches_enqueued: int = 0
    collections_written: int = 0
    # TV series written (``--media series``).
    series_written: int = 0
    bytes: int = 0
    # The refresh of each genre's movies: "full" or "incremental", by genre slug, and for
    # incremental ones the changes window ("since..until").
    refresh: dict[str, str] = field(default_factory=dict)
    windows: dict[str, str] = field(default_factory=dict)
    # Incremental plans: ids the changes feed listed; members changed or new to the genre
    # (both fetched); members skipped as unchanged; members gone (left the genre or 404).
    changes_listed: int = 0
    changed: int = 0
    new: int = 0
    unchanged_skipped: int = 0
    removed: int = 0
    # What full runs of the same genres would have cost: discover pages, one request per
    # member and (when selected) one per collection of theirs (estimated from this run's
    # share of movies that belong to one).
    full_run_requests: int = 0

    @property
    def refresh_mode(self) -> str | None:
        """One word for the run: the genres' common mode, or "mixed"."""
        modes = set(self.refresh.values())
        return None if not modes else modes.pop() if len(modes) == 1 else "mixed"

    def refresh_summary(self) -> dict[str, object]:
        """The refresh's figures, as the summary lines show them."""
        return {
            "refresh": self.refresh_mode,
            "refresh_by_genre": dict(self.refresh),
            "changes_window": dict(self.windows) or None,
            "changes_listed": self.changes_listed,
            "ids_changed": self.changed,
            "ids_new": self.new,
            "ids_unchanged_skipped": self.unchanged_skipped,
            "ids_removed": self.removed,
            "full_run_requests": self.full_run_requests,
        }


@dataclass(slots=True)
class RunReport:
    csv: list[CsvFileResult] = field(default_factory=list)
    tmdb: TmdbStats = field(default_factory=TmdbStats)
    seconds: float = 0.0
    # False when a stop (SIGTERM, Lambda deadline) ended the run before all work was done.
    complete: bool = True
    stopped_because: str | None = None
    # Where it landed: the lake's absolute path or URI.
    lake: str = ""
    # --enqueue: the TMDB work was sent to the queue, not done; ``complete`` says it was sent.
    enqueued: bool = False
