"""The settings table: every setting once, with where it may come from, its kind and default.

This is the one owner of each default, bound, environment variable, ``config.toml`` key,
command-line flag and Lambda event key. ``ingest.settings.config`` resolves the rows into the frozen
dataclasses the code reads, each field from the row named ``<group>.<field>`` (``run`` for
``Settings``' own); the command lines build their flags from the rows (``flags_of``,
``add_flags``); the Lambda event is checked against the same rows. Precedence is the
contract's: flag (or event key), then environment, then ``config.toml``, then default.
tests/test_settings_table.py holds the dataclasses, docs/contract.md and config.toml to
the rows. A new setting is a row here and, unless only read at load, a dataclass field.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ingest.settings.appends import Appends
from ingest.settings.invalid import Invalid
from ingest.settings.types import (
    Choice,
    Day,
    FilePath,
    Flag,
    Genres,
    HttpUrl,
    LakeUrl,
    Mebibytes,
    MediaList,
    Number,
    Paths,
    Secret,
    SubResources,
    Text,
    Whole,
)

__all__ = ["ROWS", "Invalid", "Setting", "ValueKind", "add_flags", "default", "flagged", "flags_of", "row"]


class ValueKind(Protocol):
    @property
    def expected(self) -> str: ...

    def parse(self, raw: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Setting:
    # Unique, dotted: the dataclass it lands in, then the field ("tmdb.concurrency";
    # "run.lake" is ``Settings.lake``).
    name: str
    kind: ValueKind
    # A value, or a function of nothing for defaults that move (today's date).
    default: Any
    help: str
    # Where it may come from; None where it may not.
    section: str | None = None
    key: str | None = None
    env: str | None = None
    flag: str | None = None
    # The commands that take the flag, in the table's order in their --help.
    cli: tuple[str, ...] = ()
    metavar: str | None = None
    # Flags that take no value (store_true) or repeat (append).
    action: str | None = None
    event: str | None = None
    secret: bool = False

    @property
    def field(self) -> str:
        """The dataclass field it lands in, which is also its flag's attribute."""
        return self.name.rsplit(".", 1)[1]

    def default_value(self) -> Any:
        # Through the row's own kind: a default breaking its own bounds fails at import.
        value = self.default() if callable(self.default) else self.default
        return None if value is None else self.kind.parse(value)

    def in_file(self, path: str) -> str:
        return f"[{self.section}] {self.key} in {path}"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# The commands of a row's flag (``cli``).
_INGEST = ("ingest",)
_STATUS = ("ingest", "status")
_WORKERS = ("workers",)
_BOTH = ("ingest", "workers")
_S = Setting
ROWS: tuple[Setting, ...] = (
    # What one run does: [job], the command line, the Lambda event.
    _S("run.config", FilePath(), None, "settings file (default: INGEST_CONFIG, then ./config.toml)",
       env="INGEST_CONFIG", flag="--config", cli=_BOTH, metavar="PATH"),
    _S("run.date", Day(), _today, "processing date used in the partition path (default: today, UTC)",
       flag="--date", cli=_STATUS, metavar="YYYY-MM-DD", event="date"),
    _S("run.log_level", Choice(("DEBUG", "INFO", "WARNING", "ERROR")),
       "INFO", "how much to log", env="INGEST_LOG_LEVEL"),
    _S("run.lake", LakeUrl(), "./datalake", "s3://bucket[/prefix] or a local directory "
       "(default: INGEST_LAKE, then config.toml, then ./datalake)",
       section="job", key="lake", env="INGEST_LAKE", flag="--lake", cli=_STATUS, metavar="URL"),
    _S("job.csv", Paths(), (), "stage 1 only, for this file (repeatable)",
       section="job", key="csv", flag="--csv", cli=_INGEST, metavar="PATH", action="append"),
    _S("job.genres", Genres(), ("crime", "war"),
       "stage 2: every movie of this genre (war, crime, guerra, 10752, ...; repeatable)",
       section="job", key="genres", flag="--genre", cli=_INGEST, metavar="NAME|ID", action="append",
       event="genres"),
    _S("job.media", MediaList(), ("movies",),
       "what --genre and --catalogue select: movies, series (TMDB's TV series), or both "
       "(repeatable, or a comma list)",
       section="job", key="media", flag="--media", cli=_INGEST, metavar="movies|series",
       action="append", event="media"),
    _S("job.movies", Flag(), True, "the genres' movies (details + keywords)", event="movies"),
    _S("job.collections", Flag(), True,
       "the franchises (TMDB collections) the selected genres' movies belong to",
       section="job", key="collections", flag="--collections", cli=_INGEST, action="store_true",
       event="collections"),
    _S("job.catalogue", Flag(), False,
       "every movie in TMDB's daily ID export for the date (about 1.1 million); with --collections, "
       "every collection in the day's collection export",
       section="job", key="catalogue", flag="--catalogue", cli=_INGEST, action="store_true",
       event="catalogue"),
    _S("job.include_adult", Flag(), False, "--catalogue: keep the export's adult movies too",
       section="job", key="include_adult", flag="--include-adult", cli=_INGEST,
       action="store_true", event="include_adult"),
    _S("job.limit", Whole(1, 1_000_000), None, "only the N most popular movies of each genre",
       section="job", key="limit", flag="--limit", cli=_INGEST, metavar="N", event="limit"),
    _S("job.refresh", Choice(("full", "incremental")), "incremental",
       "incremental (the default): fetch only the movies new to a genre or changed since its last "
       "complete run (TMDB's changes feed); full: every movie (a genre's first run is always full)",
       section="job", key="refresh", flag="--refresh", cli=_INGEST, metavar="full|incremental",
       event="refresh"),
    _S("job.max_incremental_gap_days", Whole(1, 3650), 60,
       "a genre whose last complete run is older than this many days is fetched in full",
       section="job", key="max_incremental_gap_days"),
    # TMDB.
    _S("tmdb.base_url", HttpUrl(), "https://api.themoviedb.org", "API root, without /3",
       section="tmdb", key="base_url", env="TMDB_BASE_URL"),
    _S("tmdb.exports_url", HttpUrl(), "http://files.tmdb.org/p/exports",
       "the folder that holds TMDB's daily ID exports (movie_ids_MM_DD_YYYY.json.gz)",
       section="tmdb", key="exports_url", env="TMDB_EXPORTS_URL"),
    _S("tmdb.token", Secret(), None, "TMDB v4 read access token", env="TMDB_READ_ACCESS_TOKEN", secret=True),
    _S("tmdb.api_key", Secret(), None, "TMDB v3 key (used only if no token)", env="TMDB_API_KEY",
       secret=True),
    _S("tmdb.token_parameter", Text(), None, "Lambda: SSM SecureString holding the token",
       env="TMDB_TOKEN_PARAMETER"),
    _S("tmdb.rate_per_s", Number(0.5, 1000, " of requests per second"), 40.0,
       "TMDB requests per second",
       section="tmdb", key="rate_per_s", flag="--rate", cli=_INGEST, metavar="REQ_PER_S"),
    _S("tmdb.egress_workers", Whole(1, 1000), 1,
       "processes sharing one egress IP (one NAT): each takes its share of rate_per_s and concurrency",
       section="tmdb", key="egress_workers", env="TMDB_EGRESS_WORKERS"),
    _S("tmdb.append", SubResources(), Appends(),
       "the sub-resources each details request appends, per media (TMDB's append_to_response, at "
       "most 20): movies [keywords], series [keywords, external_ids] by default",
       section="tmdb", key="append"),
    _S("tmdb.concurrency", Whole(1, 100), 20, "TMDB requests in flight",
       section="tmdb", key="concurrency", flag="--concurrency", cli=_INGEST, metavar="N"),
    _S("tmdb.connect_timeout_s", Number(0.1, 300, " of seconds"), 5.0, "seconds to open a connection",
       section="tmdb", key="connect_timeout_s"),
    _S("tmdb.read_timeout_s", Number(0.1, 3600, " of seconds"), 30.0, "seconds to wait for an answer",
       section="tmdb", key="read_timeout_s"),
    _S("tmdb.max_attempts", Whole(1, 100), 8, "attempts per request, the first included",
       section="tmdb", key="max_attempts"),
    _S("tmdb.request_timeout_s", Number(0.1, 3600, " of seconds"), 60.0,
       "seconds one request may take in all (connect, headers and body): a drip is cut and retried",
       section="tmdb", key="request_timeout_s"),
    _S("tmdb.batch_budget_s", Number(0.1, 86400, " of seconds"), 600.0,
       "seconds one batch of 100 may take in all, retries included, before it fails",
       section="tmdb", key="batch_budget_s"),
    # Uploads to the lake.
    _S("upload.part_size", Mebibytes(5, 5120), 8, "multipart part size in MiB (S3 allows 5 to 5120)",
       section="upload", key="part_size_mib"),
    _S("upload.parts_in_flight", Whole(1, 64), 8, "parts uploaded at once",
       section="upload", key="parts_in_flight"),
    _S("upload.max_attempts", Whole(1, 100), 5, "attempts per S3 request, the first included",
       section="upload", key="max_attempts"),
    _S("upload.request_timeout_s", Number(0.1, 3600, " of seconds"), 60.0,
       "seconds one S3 request (one part included) may take in all before it is cut and retried",
       section="upload", key="request_timeout_s"),
    _S("upload.part_budget_s", Number(0.1, 86400, " of seconds"), 300.0,
       "seconds one S3 call (one part) may take in all, retries included, before it fails",
       section="upload", key="part_budget_s"),
    _S("upload.single_writer", Flag(), False,
       "only one run at a time writes to this lake: accept an S3 store that ignores If-None-Match",
       section="lake", key="single_writer"),
    # `python -m workers`.
    _S("service.schedule", Text('"HH:MM" (UTC) or a cron expression'), "03:00",
       "when to run the main job: HH:MM daily in UTC or a cron expression",
       section="service", key="schedule"),
    _S("service.host", Text("a host name or address such as 0.0.0.0"), "0.0.0.0",
       "address /healthz and /metrics listen on", section="service", key="host"),
    _S("service.port", Whole(1, 65535), 8080, "HTTP port of /healthz and /metrics",
       section="service", key="port", env="INGEST_PORT", flag="--port", cli=_WORKERS, metavar="N"),
    _S("service.grace_s", Number(0, 3600, " of seconds"), 60.0,
       "on SIGTERM, seconds to let in-flight batches finish", section="service", key="grace_s"),
    _S("service.run_at_start", Flag(), False, "run the job once at start as well",
       section="service", key="run_at_start"),
    _S("service.recheck_s", Number(0.1, 3600, " of seconds"), 30.0,
       "while a start-up check (lake, TMDB, queue) fails, seconds between checks; /readyz is 503 meanwhile",
       section="service", key="recheck_s"),
    # The queue (SQS): `--enqueue` sends batches, `workers --queue` and the Lambda fetch them.
    _S("job.enqueue", Flag(), False,
       "plan as usual, then send one message per batch to the queue (INGEST_QUEUE_URL) instead of fetching",
       flag="--enqueue", cli=_INGEST, action="store_true"),
    _S("job.dry_run", Flag(), False,
       "plan without writing anything (no plan frozen, no marker) and print what a run would fetch",
       flag="--dry-run", cli=_INGEST, action="store_true"),
    _S("queue.url", Text("an SQS queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/ingest"),
       None, "SQS queue URL for --enqueue and workers --queue",
       section="queue", key="url", env="INGEST_QUEUE_URL"),
    _S("queue.batches_in_flight", Whole(1, 10), 4,
       "batches a queue worker fetches at once (all within the worker's TMDB rate)",
       section="queue", key="batches_in_flight"),
    _S("queue.wait_s", Whole(1, 20), 20, "long polling: seconds one receive waits for messages",
       section="queue", key="wait_s"),
    _S("queue.visibility_s", Whole(2, 43200), 60,
       "seconds a received batch stays hidden from other workers; renewed while it runs",
       section="queue", key="visibility_s"),
    _S("service.queue", Flag(), False, "consume batches from the queue (INGEST_QUEUE_URL)",
       section="service", key="queue", flag="--queue", cli=_WORKERS, action="store_true"),
    # The Lambda handler.
    _S("run.lambda_reserve_s", Number(0, 900, " of seconds"), 60.0,
       "stop starting batches once fewer than this many seconds remain",
       section="lambda", key="reserve_s", env="INGEST_LAMBDA_RESERVE_S"),
)  # fmt: skip

_BY_NAME = {r.name: r for r in ROWS}
assert len(_BY_NAME) == len(ROWS), "setting names must be unique"


def row(name: str) -> Setting:
    return _BY_NAME[name]


def has_row(name: str) -> bool:
    return name in _BY_NAME


def default(name: str) -> Any:
    """The built-in default of a setting: the one place it is written."""
    return _BY_NAME[name].default_value()


def file_keys() -> dict[str, dict[str, Setting]]:
    """``config.toml``'s sections and their keys."""
    sections: dict[str, dict[str, Setting]] = {}
    for r in ROWS:
        if r.section and r.key:
            sections.setdefault(r.section, {})[r.key] = r
    return sections


def flags_of(command: str) -> tuple[str, ...]:
    """The settings ``command`` takes as flags, in --help's order."""
    return tuple(r.name for r in ROWS if command in r.cli)


def add_flags(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """Add the flags of these settings; values stay raw text, checked when settings load."""
    for r in map(row, names):
        assert r.flag and r.cli, f"{r.name} has no flag"
        shown = r.default if isinstance(r.default, int | float) and not isinstance(r.default, bool) else None
        help_text = r.help if shown is None else f"{r.help} (default {shown:g})"
        options: dict[str, Any] = {"dest": r.field, "help": help_text, "default": None}
        if r.action:
            options["action"] = r.action
        if r.action != "store_true":
            options["metavar"] = r.metavar
        parser.add_argument(r.flag, **options)


def flagged(namespace: argparse.Namespace, names: Iterable[str] | None = None) -> dict[str, Any]:
    """Setting name -> raw value, for each flag (of ``names``) the command line said."""
    said: dict[str, Any] = {}
    for r in ROWS:
        if r.cli and (names is None or r.name in names):
            value = getattr(namespace, r.field, None)
            if value is not None and value != () and value is not False:
                said[r.name] = list(value) if isinstance(value, tuple) else value
    return said
