"""The AWS Lambda entry point: ``ingest.aws_lambda.handler(event, context)``, stage 2 only.

An event says what to fetch; every key is optional and a missing one comes from
``config.toml`` (shipped in the zip) and the environment::

    {"genres": ["war", "crime"],   # names, slugs, guerra/crime, or TMDB ids
     "movies": true,               # the genres' movies (details + keywords)
     "collections": true,          # the franchises those movies belong to
     "date": "2026-11-28",         # processing date; default today, UTC
     "limit": 200}                 # only the N most popular movies per genre; null: all

The seed's events are accepted too: ``{"tipo": "guerra"}`` (war movies), ``{"tipo":
"crime"}`` (crime movies), ``{"tipo": "franquias"}`` (collections of crime and war).
An EventBridge "Scheduled Event" counts as ``{}`` for the date of its ``time``.

The invocation watches ``context.get_remaining_time_in_millis()``: once fewer than
``[lambda] reserve_s`` seconds remain (``INGEST_LAMBDA_RESERVE_S`` overrides it) no new
batch starts, and anything still running shortly before the deadline is cancelled (the
lake's writes are atomic, so nothing is half-written). The answer is either
``{"status": "done", "summary": {...}}`` or ``{"status": "partial", "continue": <event>,
"summary": {...}}``, where ``continue`` pins the resolved plan and its date so the next
invocation resumes the same run; the stage's own state in the lake makes every movie
written exactly once across the chain.

A bad event raises ``ConfigError`` (the invocation fails with ``errorType``
``ConfigError`` and a message saying what to fix; retrying cannot help). A failure that
survived retries raises its ``RunError`` subclass (``LakeError``, ``RemoteError``, ...);
invoking again with the same event resumes.

The TMDB token comes from ``TMDB_READ_ACCESS_TOKEN``, or, in AWS, from the SSM
SecureString parameter named by ``TMDB_TOKEN_PARAMETER``, read once per container.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import structlog

from ingest.config import Job, Overrides, Settings, load_settings
from ingest.errors import ConfigError, IngestError
from ingest.genres import Genre, resolve_genre
from ingest.job import run_job
from ingest.logs import configure_logging, register_secret
from ingest.report import RunReport
from ingest.stop import Stop

log = structlog.get_logger(__name__)

# The seed's event form: {"tipo": ...}.
_TIPOS: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    # tipo: (genres, movies, collections)
    "guerra": (("war",), True, False),
    "crime": (("crime",), True, False),
    "franquias": (("crime", "war"), False, True),
}
_KEYS = {"genres", "movies", "collections", "date", "limit"}
# Cancel whatever is still running this long before the hard deadline at the latest (or at
# half the reserve, if that is smaller): the time to close connections and answer.
_CUT_MARGIN_S = 5.0

# Per container: Lambda reuses the process across invocations.
_token_cache: dict[str, str] = {}
_logging_ready = False


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """What an invocation (and every invocation chained after it) works on."""

    genres: tuple[Genre, ...]
    movies: bool
    collections: bool
    date: dt.date
    limit: int | None

    def as_event(self) -> dict[str, Any]:
        """The event that resumes this plan: every key explicit, the date pinned."""
        return {
            "genres": [g.slug for g in self.genres],
            "movies": self.movies,
            "collections": self.collections,
            "date": self.date.isoformat(),
            "limit": self.limit,
        }

    def job(self) -> Job:
        return Job(genres=self.genres, movies=self.movies, collections=self.collections, limit=self.limit)


def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Run (part of) stage 2 within this invocation's time; say how to continue."""
    _setup_logging()
    budget_s = context.get_remaining_time_in_millis() / 1000
    started = time.monotonic()
    env = _environment()
    settings, plan = plan_from_event(event, env)
    reserve_s = settings.lambda_reserve_s
    if budget_s <= reserve_s:
        raise ConfigError(
            f"the invocation has {budget_s:.0f} s but {reserve_s:.0f} s are reserved: raise the "
            "function's timeout or lower INGEST_LAMBDA_RESERVE_S / [lambda] reserve_s"
        )
    # No batch starts after `deadline`; anything still running at `cut_after_s` is cancelled.
    stop = Stop(deadline=started + budget_s - reserve_s)
    cut_after_s = budget_s - min(_CUT_MARGIN_S, reserve_s / 2) - (time.monotonic() - started)
    log.info("invocation_started", **plan.as_event(), budget_s=round(budget_s, 1), reserve_s=reserve_s)
    try:
        report = asyncio.run(_run(settings, stop, cut_after_s))
    except IngestError as exc:
        # Raised on: Lambda reports errorType (e.g. LakeError), which the state machine retries.
        log.error("invocation_failed", error=type(exc).__name__, message=str(exc), **plan.as_event())
        raise
    summary = {
        **plan.as_event(),
        "lake": settings.lake,
        "seconds": report.seconds,
        "stopped_because": report.stopped_because,
        "tmdb": asdict(report.tmdb),
    }
    status = "done" if report.complete else "partial"
    log.info(
        "invocation_finished", status=status, remaining_ms=context.get_remaining_time_in_millis(), **summary
    )
    if report.complete:
        return {"status": "done", "summary": summary}
    return {"status": "partial", "continue": plan.as_event(), "summary": summary}


async def _run(settings: Settings, stop: Stop, cut_after_s: float) -> RunReport:
    report = RunReport()
    try:
        async with asyncio.timeout(cut_after_s) as window:
            await run_job(settings, stop=stop, report=report)
    except TimeoutError:
        if not window.expired():
            raise
        # The batches in flight did not make it before the deadline: they are cancelled
        # whole (atomic writes) and the next invocation redoes them.
        stop.request("deadline")
        report.complete = False
        report.stopped_because = "deadline"
        log.warning("invocation_cut", cut_after_s=round(cut_after_s, 1))
    return report


def plan_from_event(event: Any, env: Mapping[str, str]) -> tuple[Settings, Plan]:
    """Resolve an event against the configuration; raise ``ConfigError`` if it is wrong."""
    if event is None:
        event = {}
    if not isinstance(event, Mapping):
        raise ConfigError(f"the event must be a JSON object, got {type(event).__name__}")
    event = dict(event)
    if event.get("detail-type") == "Scheduled Event" and event.get("source") == "aws.events":
        # EventBridge wired straight to the function: a scheduled run of the configured job.
        event = {"date": str(event.get("time", ""))[:10]} if event.get("time") else {}

    if "tipo" in event:
        tipo = event.pop("tipo")
        if not isinstance(tipo, str) or tipo.strip().lower() not in _TIPOS:
            raise ConfigError(f'unknown tipo {tipo!r}: use "guerra", "crime" or "franquias"')
        clash = sorted(event.keys() & {"genres", "movies", "collections"})
        if clash:
            raise ConfigError(f"the event sets tipo and {', '.join(clash)}: use one form or the other")
        names, movies, collections = _TIPOS[tipo.strip().lower()]
        event |= {"genres": list(names), "movies": movies, "collections": collections}

    unknown = sorted(set(event) - _KEYS)
    if unknown:
        raise ConfigError(
            f"unknown event key(s) {', '.join(map(repr, unknown))}: the event takes "
            "genres, movies, collections, date and limit (or the seed's tipo)"
        )
    date = event.get("date")
    if date is not None and not isinstance(date, str):
        raise ConfigError(f"date must be a string YYYY-MM-DD, got {date!r}")
    settings = load_settings(Overrides(date=date), env=env)
    configured = settings.job

    genres = configured.genres
    if "genres" in event:
        raw = event["genres"]
        if not isinstance(raw, list) or not raw or not all(isinstance(g, str | int) for g in raw):
            raise ConfigError(f'genres must be a non-empty list such as ["war"], got {raw!r}')
        genres = tuple(dict.fromkeys(resolve_genre(g) for g in raw))
    movies = _flag(event, "movies", True)
    collections = _flag(event, "collections", configured.collections)
    limit = configured.limit
    if "limit" in event:
        limit = event["limit"]
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"limit must be a whole number of at least 1 or null, got {limit!r}")
    if not genres:
        raise ConfigError("no genres: set genres in the event or [job] genres in config.toml")
    if not (movies or collections):
        raise ConfigError("the event asks for neither movies nor collections: nothing to do")
    plan = Plan(genres=genres, movies=movies, collections=collections, date=settings.date,
                limit=limit)  # fmt: skip
    # Stage 1 never runs here: a Lambda has no CSV files to read.
    return replace(settings, job=plan.job()), plan


def _flag(event: Mapping[str, Any], key: str, default: bool) -> bool:
    value = event.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return value


def _environment() -> dict[str, str]:
    """The process environment, with the TMDB token fetched from SSM if it is kept there."""
    env = dict(os.environ)
    parameter = env.get("TMDB_TOKEN_PARAMETER")
    if parameter and not env.get("TMDB_READ_ACCESS_TOKEN") and not env.get("TMDB_API_KEY"):
        if parameter not in _token_cache:
            _token_cache[parameter] = _read_parameter(parameter)
        env["TMDB_READ_ACCESS_TOKEN"] = _token_cache[parameter]
    register_secret(env.get("TMDB_READ_ACCESS_TOKEN"))
    register_secret(env.get("TMDB_API_KEY"))
    return env


def _read_parameter(name: str) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        resp = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ConfigError(
            f"cannot read the TMDB token from SSM parameter {name} ({code}): create it as a "
            "SecureString, or grant the function ssm:GetParameter on it"
        ) from None
    except BotoCoreError as exc:
        raise ConfigError(
            f"cannot read the TMDB token from SSM parameter {name} ({type(exc).__name__})"
        ) from None
    value: str = resp["Parameter"]["Value"]
    return value.strip()


def _setup_logging() -> None:
    global _logging_ready
    if not _logging_ready:
        # No TTY in Lambda: one JSON object per line, which CloudWatch Logs Insights parses.
        configure_logging(json=True)
        _logging_ready = True
