"""Settings: the rows of ``ingest.settings.table`` resolved into frozen dataclasses.

Every value comes from the first source that says it: a command-line flag (or a Lambda
event key), the environment, ``config.toml``, the row's default. Each is checked at load
time by its row; a bad one raises ``ConfigError`` in one shape, naming the setting and
where it came from: ``[tmdb] concurrency in config.toml must be a whole number between 1
and 100, got 2.9``. Unknown sections and keys in ``config.toml`` are refused too, with the
closest known key. Secrets (the TMDB token or key) only ever come from the environment,
are kept out of ``repr`` and are never accepted from ``config.toml``.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from ingest.errors import ConfigError
from ingest.settings.appends import Appends
from ingest.settings.fleet import fleet_share
from ingest.settings.genres import Genre, resolve_genre
from ingest.settings.invalid import Invalid
from ingest.settings.table import ROWS, Setting, default, file_keys, has_row, row
from ingest.settings.types import suggestion

DEFAULT_LAKE: str = default("run.lake")
DEFAULT_TMDB_BASE_URL: str = default("tmdb.base_url")
DEFAULT_CONFIG = Path("config.toml")
# Keys config.toml may not hold, in any table: the secret rows' fields and variables.
_SECRET_KEYS = {r.field for r in ROWS if r.secret} | {r.env.lower() for r in ROWS if r.secret and r.env}
# The selection flags: any of them replaces the main job with the work they name.
_SELECTION = ("job.csv", "job.genres", "job.collections", "job.catalogue")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class UploadTuning:
    """How the lake uploads (``[upload]``): part sizes, parts in flight, retries, totals."""

    # Defaults from the settings table, their one owner.
    part_size: int = default("upload.part_size")
    parts_in_flight: int = default("upload.parts_in_flight")
    max_attempts: int = default("upload.max_attempts")
    # A total per attempt of an S3 request (a stall never ends it otherwise), and per call
    # (one part: every attempt and the waits between them).
    request_timeout_s: float = default("upload.request_timeout_s")
    part_budget_s: float = default("upload.part_budget_s")
    # Only one run at a time writes to this lake: a store without conditional writes will do.
    single_writer: bool = default("upload.single_writer")


@dataclass(frozen=True, slots=True)
class TmdbSettings:
    base_url: str = DEFAULT_TMDB_BASE_URL
    # The folder of TMDB's daily ID exports (``--catalogue``); no credentials go there.
    exports_url: str = default("tmdb.exports_url")
    token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    rate_per_s: float = default("tmdb.rate_per_s")
    concurrency: int = default("tmdb.concurrency")
    connect_timeout_s: float = default("tmdb.connect_timeout_s")
    read_timeout_s: float = default("tmdb.read_timeout_s")
    max_attempts: int = default("tmdb.max_attempts")
    # A total per attempt (a drip never ends it otherwise), and per batch (retries included).
    request_timeout_s: float = default("tmdb.request_timeout_s")
    batch_budget_s: float = default("tmdb.batch_budget_s")
    # The sub-resources each details request appends, per media.
    append: Appends = default("tmdb.append")

    @property
    def has_credentials(self) -> bool:
        return bool(self.token or self.api_key)


@dataclass(frozen=True, slots=True)
class Job:
    """What one run ingests."""

    csv: tuple[Path, ...] = default("job.csv")
    genres: tuple[Genre, ...] = default("job.genres")
    # What the genres (and the catalogue) select: "movies", "series", or both.
    media: tuple[str, ...] = default("job.media")
    # Fetch the genres' movies (details + keywords).
    movies: bool = default("job.movies")
    # Fetch the collections the genres' movies belong to.
    collections: bool = default("job.collections")
    # Only the N most popular movies of each genre.
    limit: int | None = default("job.limit")
    # "incremental" (what changed since the genre's last complete run) or "full".
    refresh: str = default("job.refresh")
    # A last complete run older than this is not caught up on: the run is a full one.
    max_incremental_gap_days: int = default("job.max_incremental_gap_days")
    # Plan, then send the batches to the queue instead of fetching them.
    enqueue: bool = default("job.enqueue")
    # Plan without writing anything and say what a run would fetch (``ingest.run.dry_run``).
    dry_run: bool = default("job.dry_run")
    # Every movie of the day's ID export (and with ``collections``, every collection).
    catalogue: bool = default("job.catalogue")
    include_adult: bool = default("job.include_adult")

    @property
    def uses_tmdb(self) -> bool:
        return bool(self.genres) and (self.movies or self.collections)

    @property
    def movie_genres(self) -> tuple[Genre, ...]:
        """The genres whose movies (and collections) the job fetches."""
        if "movies" not in self.media or not self.uses_tmdb:
            return ()
        return tuple(dict.fromkeys(resolve_genre(g.slug, "movies") for g in self.genres))

    @property
    def series_genres(self) -> tuple[Genre, ...]:
        """The TV genres whose series the job fetches (``war`` is War & Politics there);
        raises ``ConfigError`` for a genre TV does not have."""
        if "series" not in self.media or not self.genres or not self.movies:
            return ()
        return tuple(dict.fromkeys(resolve_genre(g.slug, "series") for g in self.genres))

    @property
    def catalogue_media(self) -> tuple[str, ...]:
        """The media whose whole catalogue the job fetches (``--catalogue``)."""
        return self.media if self.catalogue else ()


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    # "HH:MM" (daily, UTC) or a five-field cron expression.
    schedule: str = default("service.schedule")
    host: str = default("service.host")
    port: int = default("service.port")
    grace_s: float = default("service.grace_s")
    run_at_start: bool = default("service.run_at_start")
    # While a start-up check fails, seconds between checks (/readyz).
    recheck_s: float = default("service.recheck_s")
    # Consume batches from the queue instead of running the job on the schedule.
    queue: bool = default("service.queue")


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """The SQS queue batches travel through (``ingest.queue``)."""

    url: str | None = None
    batches_in_flight: int = default("queue.batches_in_flight")
    wait_s: int = default("queue.wait_s")
    visibility_s: int = default("queue.visibility_s")


@dataclass(frozen=True, slots=True)
class Settings:
    lake: str = DEFAULT_LAKE
    date: dt.date = field(default_factory=lambda: default("run.date"))
    job: Job = field(default_factory=Job)
    tmdb: TmdbSettings = field(default_factory=TmdbSettings)
    upload: UploadTuning = field(default_factory=UploadTuning)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    # Lambda: stop starting batches once fewer than this many seconds remain.
    lambda_reserve_s: float = default("run.lambda_reserve_s")
    log_level: str = default("run.log_level")


@dataclass(frozen=True, slots=True)
class _Sources:
    """The places a value may come from, highest precedence first."""

    flags: Mapping[str, Any]
    event: Mapping[str, Any]
    env: Mapping[str, str]
    file: Mapping[str, Any]
    path: str

    def said(self, r: Setting) -> tuple[Any, str] | None:
        """The raw value of the first source that sets ``r``, and how to name it there."""
        if r.name in self.flags:
            return self.flags[r.name], str(r.flag)
        if r.event and r.event in self.event:
            return self.event[r.event], f'"{r.event}" in the event'
        if r.env and r.env in self.env:
            return self.env[r.env], r.env
        table = self.file.get(r.section or "", {})
        if r.key and r.key in table:
            return table[r.key], r.in_file(self.path)
        return None

    def value(self, name: str) -> Any:
        r = row(name)
        said = self.said(r)
        if said is None:
            return r.default_value()
        raw, origin = said
        if raw is None and r.default is None:
            return None  # the event's `"limit": null`: explicitly none
        try:
            return r.kind.parse(raw)
        except Invalid as exc:
            raise ConfigError(f"{origin} {exc}") from None


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    event: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the run's settings from every source, in the contract's precedence order.

    ``flags``: setting name -> raw value, what a command line said (``flagged(args)``).
    """
    env = os.environ if env is None else env
    flags = flags or {}
    path = _Sources(flags, {}, env, {}, "").value("run.config")
    where = str(path or DEFAULT_CONFIG)
    file = _read_toml(path) if path else (_read_toml(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else {})
    _check_file(file, where)
    src = _Sources(flags, event or {}, env, file, where)
    settings = _build(Settings, "run", src.value)
    # The budget is per egress IP: the processes behind one share it.
    workers = src.value("tmdb.egress_workers")
    tmdb = replace(
        settings.tmdb,
        rate_per_s=fleet_share(settings.tmdb.rate_per_s, workers),
        concurrency=max(1, settings.tmdb.concurrency // workers),
    )
    job = _selected(settings.job, flags)
    # A genre the media asked for does not have is a usage error now, not mid-run.
    job.movie_genres, job.series_genres  # noqa: B018
    return replace(settings, tmdb=tmdb, job=job)


def _build(cls: type[_T], group: str, value: Callable[[str], Any]) -> _T:
    """``cls`` with each field from its row, ``<group>.<field>``; a dataclass field is
    the group of that name (``Settings.tmdb``: the ``tmdb.*`` rows)."""
    hints = get_type_hints(cls)
    said: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        kind = hints[f.name]
        # A dataclass field is a group of rows unless a row of its own holds it (``tmdb.append``).
        nested = isinstance(kind, type) and is_dataclass(kind) and not has_row(f"{group}.{f.name}")
        said[f.name] = _build(kind, f.name, value) if nested else value(f"{group}.{f.name}")
    return cls(**said)


def _selected(job: Job, flags: Mapping[str, Any]) -> Job:
    """A selection flag names its own work: what it leaves out is not done."""
    if not any(n in flags for n in _SELECTION):
        return job
    # `--collections` alone: the franchises of the configured genres; with `--catalogue`,
    # the collections of the day's collection export instead.
    catalogue = "job.catalogue" in flags
    wants_genres = "job.genres" in flags or ("job.collections" in flags and not catalogue)
    return replace(
        job,
        csv=job.csv if "job.csv" in flags else (),
        genres=job.genres if wants_genres else (),
        movies="job.genres" in flags,
        collections="job.collections" in flags,
        catalogue=catalogue,
    )


def require_job_source(flags: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
    """Refuse to run the main job from the built-in defaults alone: without a settings file
    (``--config``, ``INGEST_CONFIG``, ``./config.toml``) and without a selection flag, a run
    started from the wrong directory would silently do another job (no CSV files) and call
    it complete. Exit 2 is the one answer a cron line cannot mistake."""
    env = os.environ if env is None else env
    if any(n in flags for n in _SELECTION) or _Sources(flags, {}, env, {}, "").value("run.config"):
        return
    if DEFAULT_CONFIG.is_file():
        return
    raise ConfigError(
        f"no config.toml in {Path.cwd()} and no selection flag: the main job is what config.toml "
        "describes; run from its directory, point --config (or INGEST_CONFIG) at it, or name the "
        "work (--csv PATH, --genre NAME, --collections, --catalogue)"
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist: fix --config/INGEST_CONFIG") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory: point --config at a .toml file") from None
    except PermissionError:
        raise ConfigError(f"config file {path} cannot be read (permission denied): fix its mode") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}): save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}): fix that line") from None


def _check_file(table: Mapping[str, Any], where: str) -> None:
    """Refuse secrets, unknown sections and unknown keys, each by name."""
    _refuse_secrets(table, where)
    known = file_keys()
    for section, keys in table.items():
        # `lake = ...` at the top is [job] lake out of place, not a malformed [lake] table.
        home = next((s for s, ks in known.items() if section in ks), None)
        if not isinstance(keys, Mapping) and home:
            raise ConfigError(f"{where} sets {section} outside any section: put it under [{home}]")
        if section not in known:
            if not isinstance(keys, Mapping):
                home = next((s for s, ks in known.items() if section in ks), None)
                hint = f": put it under [{home}]" if home else ""
                raise ConfigError(f"{where} sets {section} outside any section{hint}")
            raise ConfigError(
                f"{where} has an unknown section [{section}]{suggestion(section, list(known))}: "
                f"the sections are {', '.join(f'[{s}]' for s in known)}"
            )
        if not isinstance(keys, Mapping):
            raise ConfigError(f"{where}: [{section}] must be a table, e.g. [{section}] on its own line")
        for key in keys:
            if key not in known[section]:
                home = next((s for s, ks in known.items() if key in ks and s != section), None)
                near = f" (it belongs in [{home}])" if home else suggestion(key, list(known[section]))
                raise ConfigError(
                    f"{where} has an unknown key {key} in [{section}]{near}: the keys of [{section}] "
                    f"are {', '.join(known[section])}"
                )


def _refuse_secrets(table: Mapping[str, Any], where: str, prefix: str = "") -> None:
    for key, value in table.items():
        if isinstance(value, Mapping):
            _refuse_secrets(value, where, f"{prefix}{key}.")
        elif key.lower() in _SECRET_KEYS:
            raise ConfigError(
                f"{where} sets {prefix}{key}: secrets never go in config.toml; remove it and "
                "set TMDB_READ_ACCESS_TOKEN (or TMDB_API_KEY) in the environment"
            )


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The raw secrets in the environment, to mask before anything is parsed or printed."""
    from urllib.parse import urlsplit

    found = [env[r.env] for r in ROWS if r.secret and r.env and env.get(r.env)]
    try:
        url = urlsplit(env.get("TMDB_BASE_URL", ""))
        found += [url.username or "", url.password or ""]
    except ValueError:
        pass
    return [s for s in found if s]
