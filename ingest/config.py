"""Settings: built-in defaults, then ``config.toml``, then the environment, then flags.

Everything is read once, validated at load time and frozen; a bad value raises
``ConfigError`` with a message that names the setting and says how to fix it.
Secrets (the TMDB token or key) only ever come from the environment, are kept out of
``repr`` and are never accepted from ``config.toml``.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest.errors import ConfigError
from ingest.genres import Genre, resolve_genre
from ingest.lake import UploadTuning

DEFAULT_LAKE = "./datalake"
DEFAULT_TMDB_BASE_URL = "https://api.themoviedb.org"
DEFAULT_CONFIG = Path("config.toml")
MIB = 1024 * 1024
_SECRET_KEYS = {"token", "api_key", "read_access_token", "aws_secret_access_key", "password"}


@dataclass(frozen=True, slots=True)
class TmdbSettings:
    base_url: str = DEFAULT_TMDB_BASE_URL
    token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    rate_per_s: float = 40.0
    concurrency: int = 20
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_attempts: int = 8

    @property
    def has_credentials(self) -> bool:
        return bool(self.token or self.api_key)


@dataclass(frozen=True, slots=True)
class Job:
    """What one run ingests."""

    csv: tuple[Path, ...] = ()
    genres: tuple[Genre, ...] = ()
    # Fetch the genres' movies (details + keywords).
    movies: bool = False
    # Fetch the collections the genres' movies belong to.
    collections: bool = False
    # Only the N most popular movies of each genre.
    limit: int | None = None

    @property
    def uses_tmdb(self) -> bool:
        return bool(self.genres) and (self.movies or self.collections)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    # "HH:MM" (daily, UTC) or a five-field cron expression.
    schedule: str = "03:00"
    host: str = "0.0.0.0"
    port: int = 8080
    grace_s: float = 60.0
    run_at_start: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    lake: str = DEFAULT_LAKE
    date: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    job: Job = field(default_factory=Job)
    tmdb: TmdbSettings = field(default_factory=TmdbSettings)
    upload: UploadTuning = field(default_factory=UploadTuning)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    # Lambda: stop starting batches once fewer than this many seconds remain.
    lambda_reserve_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Overrides:
    """What a command line (or a Lambda event) says; ``None`` means "not said"."""

    config: Path | None = None
    lake: str | None = None
    date: str | None = None
    csv: tuple[str, ...] = ()
    genres: tuple[str | int, ...] = ()
    collections: bool = False
    limit: int | None = None
    rate_per_s: float | None = None
    concurrency: int | None = None

    @property
    def selects(self) -> bool:
        """True when the command picks its own work instead of running the main job."""
        return bool(self.csv or self.genres or self.collections)


def load_settings(overrides: Overrides | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build the run's settings from every source, in the contract's precedence order."""
    overrides = overrides or Overrides()
    env = os.environ if env is None else env
    path = overrides.config or (Path(env["INGEST_CONFIG"]) if env.get("INGEST_CONFIG") else None)
    table = _read_toml(path) if path else (_read_toml(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else {})
    where = str(path or DEFAULT_CONFIG)
    _refuse_secrets(table, where)

    job_t = _table(table, "job", where)
    tmdb_t = _table(table, "tmdb", where)
    upload_t = _table(table, "upload", where)
    service_t = _table(table, "service", where)
    lambda_t = _table(table, "lambda", where)

    lake = overrides.lake or env.get("INGEST_LAKE") or _str(job_t, "lake", where, DEFAULT_LAKE)
    if not lake.strip():
        raise ConfigError("the lake is empty: set --lake, INGEST_LAKE or [job] lake in config.toml")

    date = _parse_date(overrides.date) if overrides.date else dt.datetime.now(dt.UTC).date()

    if overrides.selects:
        genres = tuple(resolve_genre(g) for g in overrides.genres)
        if overrides.collections and not genres:
            # `--collections` alone: the franchises of the configured genres.
            genres = tuple(resolve_genre(g) for g in _list(job_t, "genres", where, ["crime", "war"]))
        job = Job(
            csv=tuple(Path(p) for p in overrides.csv),
            genres=_unique(genres),
            movies=bool(overrides.genres),
            collections=overrides.collections,
            limit=overrides.limit,
        )
    else:
        job = Job(
            csv=tuple(Path(p) for p in _list(job_t, "csv", where, [])),
            genres=_unique(tuple(resolve_genre(g) for g in _list(job_t, "genres", where, ["crime", "war"]))),
            movies=True,
            collections=_bool(job_t, "collections", where, True),
            limit=overrides.limit if overrides.limit is not None else _opt_int(job_t, "limit", where),
        )
    if job.limit is not None and job.limit < 1:
        raise ConfigError(f"limit must be at least 1, got {job.limit}: drop it to fetch every movie")

    tmdb = TmdbSettings(
        base_url=(env.get("TMDB_BASE_URL") or _str(tmdb_t, "base_url", where, DEFAULT_TMDB_BASE_URL))
        .rstrip("/")
        .removesuffix("/3"),
        token=env.get("TMDB_READ_ACCESS_TOKEN") or None,
        api_key=env.get("TMDB_API_KEY") or None,
        rate_per_s=overrides.rate_per_s
        if overrides.rate_per_s is not None
        else _num(tmdb_t, "rate_per_s", where, 40.0),
        concurrency=overrides.concurrency
        if overrides.concurrency is not None
        else int(_num(tmdb_t, "concurrency", where, 20)),
        connect_timeout_s=_num(tmdb_t, "connect_timeout_s", where, 5.0),
        read_timeout_s=_num(tmdb_t, "read_timeout_s", where, 30.0),
        max_attempts=int(_num(tmdb_t, "max_attempts", where, 8)),
    )
    if not tmdb.base_url.startswith(("http://", "https://")):
        raise ConfigError(f"TMDB_BASE_URL {tmdb.base_url!r} must start with http:// or https://")
    if not 0 < tmdb.rate_per_s <= 1000:
        raise ConfigError(f"rate must be above 0 and at most 1000 requests/s, got {tmdb.rate_per_s:g}")
    if not 1 <= tmdb.concurrency <= 100:
        raise ConfigError(f"concurrency must be between 1 and 100, got {tmdb.concurrency}")
    if tmdb.max_attempts < 1:
        raise ConfigError(f"[tmdb] max_attempts must be at least 1, got {tmdb.max_attempts}")

    part_mib = _num(upload_t, "part_size_mib", where, 8)
    if not 5 <= part_mib <= 5 * 1024:
        raise ConfigError(
            f"[upload] part_size_mib must be between 5 and 5120 (S3's part limits), got {part_mib}"
        )
    upload = UploadTuning(
        part_size=int(part_mib * MIB),
        parts_in_flight=int(_num(upload_t, "parts_in_flight", where, 8)),
        max_attempts=int(_num(upload_t, "max_attempts", where, 5)),
    )
    if not 1 <= upload.parts_in_flight <= 64:
        raise ConfigError(f"[upload] parts_in_flight must be between 1 and 64, got {upload.parts_in_flight}")
    if upload.max_attempts < 1:
        raise ConfigError(f"[upload] max_attempts must be at least 1, got {upload.max_attempts}")

    service = ServiceSettings(
        schedule=_str(service_t, "schedule", where, "03:00"),
        host=_str(service_t, "host", where, "0.0.0.0"),
        port=int(_num(service_t, "port", where, 8080)),
        grace_s=_num(service_t, "grace_s", where, 60.0),
        run_at_start=_bool(service_t, "run_at_start", where, False),
    )
    return Settings(
        lake=lake,
        date=date,
        job=job,
        tmdb=tmdb,
        upload=upload,
        service=service,
        lambda_reserve_s=_env_seconds(env, "INGEST_LAMBDA_RESERVE_S")
        if env.get("INGEST_LAMBDA_RESERVE_S")
        else _num(lambda_t, "reserve_s", where, 60.0),
    )


def with_job(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, job=replace(settings.job, **changes))


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"date {text!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-28") from None


def _env_seconds(env: Mapping[str, str], name: str) -> float:
    text = env[name]
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ConfigError(f"{name} must be a number of seconds, got {text!r}")
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist: fix --config/INGEST_CONFIG") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory: point --config at a .toml file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}): fix that line") from None


def _refuse_secrets(table: Mapping[str, Any], where: str, prefix: str = "") -> None:
    for key, value in table.items():
        if isinstance(value, Mapping):
            _refuse_secrets(value, where, f"{prefix}{key}.")
        elif key.lower() in _SECRET_KEYS:
            raise ConfigError(
                f"{where} sets {prefix}{key}: secrets never go in config.toml; remove it and "
                "set TMDB_READ_ACCESS_TOKEN (or TMDB_API_KEY) in the environment"
            )


def _table(table: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = table.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table")
    return value


def _str(t: Mapping[str, Any], key: str, where: str, default: str) -> str:
    value = t.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
    return value


def _num(t: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = t.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where}: {key} must be a non-negative number, got {value!r}")
    return float(value)


def _opt_int(t: Mapping[str, Any], key: str, where: str) -> int | None:
    value = t.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: {key} must be a whole number, got {value!r}")
    return value


def _bool(t: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = t.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _list(t: Mapping[str, Any], key: str, where: str, default: Sequence[Any]) -> list[Any]:
    value = t.get(key, list(default))
    if not isinstance(value, list):
        raise ConfigError(f'{where}: {key} must be a list, e.g. {key} = ["..."]')
    return value


def _unique(genres: tuple[Genre, ...]) -> tuple[Genre, ...]:
    return tuple(dict.fromkeys(genres))
