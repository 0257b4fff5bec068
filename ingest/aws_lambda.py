"""The AWS Lambda entry point: ``ingest.aws_lambda.handler(event, context)``, stage 2 only.

An event says what to fetch (``ingest.run.lambda_event`` reads it); every key is optional
and a missing one comes from ``config.toml`` (shipped in the zip) and the environment::

    {"genres": ["war", "crime"],   # names, slugs, guerra/crime, or TMDB ids
     "movies": true,               # the genres' movies (details + keywords)
     "collections": true,          # the franchises those movies belong to
     "date": "2026-11-28",         # processing date; default today, UTC
     "limit": 200,                 # only the N most popular movies per genre; null: all
     "refresh": "incremental"}     # or "full"; default [job] refresh, then incremental

The seed's events are accepted too: ``{"tipo": "guerra"}`` (war movies), ``{"tipo":
"crime"}`` (crime movies), ``{"tipo": "franquias"}`` (collections of crime and war).
An EventBridge "Scheduled Event" counts as ``{}`` for the date of its ``time``.

The invocation watches ``context.get_remaining_time_in_millis()``: once fewer than
``[lambda] reserve_s`` seconds remain (``INGEST_LAMBDA_RESERVE_S`` overrides it) no new
batch starts, and anything still running shortly before the deadline is cancelled (the
lake's writes are atomic, so nothing is half-written). The answer is either
``{"status": "done", "summary": {...}}`` or ``{"status": "partial", "continue": <event>,
"summary": {...}}``, where ``continue`` pins the resolved plan, its date and its refresh
mode so the next invocation resumes the same run (it reuses the plan frozen for that
date); the stage's own state in the lake makes every movie written exactly once across
the chain.

A bad event raises ``ConfigError`` (the invocation fails with ``errorType``
``ConfigError`` and a message saying what to fix; retrying cannot help). A failure that
survived retries raises its ``RunError`` subclass (``LakeError``, ``RemoteError``, ...);
invoking again with the same event resumes.

An SQS event (``Records`` from ``aws:sqs``, one batch message each, sent by ``--enqueue``)
is answered with ``{"batchItemFailures": [...]}`` naming the messages whose batch failed
(``ingest.queue.lambda_sqs``), for an event source mapping with ``ReportBatchItemFailures``.

The TMDB token comes from ``TMDB_READ_ACCESS_TOKEN``, or, in AWS, from the SSM
SecureString parameter named by ``TMDB_TOKEN_PARAMETER``, read once per container.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from ingest.errors import ConfigError, IngestError
from ingest.queue.lambda_sqs import is_sqs_event, run_records
from ingest.reports.counts import RunReport
from ingest.reports.summary import counts
from ingest.run.checks import run_checks
from ingest.run.job import run_job
from ingest.run.lambda_event import plan_from_event
from ingest.run.start import start
from ingest.settings.config import Settings
from ingest.settings.table import row
from ingest.stop import Stop

log = structlog.get_logger(__name__)

# Cancel whatever is still running this long before the hard deadline at the latest (or at
# half the reserve, if that is smaller): the time to close connections and answer.
_CUT_MARGIN_S = 5.0

# Per container: Lambda reuses the process across invocations.
_token_cache: dict[str, str] = {}
_PARAMETER = row("tmdb.token_parameter")


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Run (part of) stage 2 within this invocation's time; say how to continue."""
    budget_s = context.get_remaining_time_in_millis() / 1000
    started = time.monotonic()
    if is_sqs_event(event):
        return _handle_sqs(event, budget_s, started)
    settings, plan = plan_from_event(event, _environment(), json_logs=True)
    reserve_s = settings.lambda_reserve_s
    if budget_s <= reserve_s:
        raise ConfigError(
            f"the invocation has {budget_s:.0f} s but {reserve_s:.0f} s are reserved: raise the "
            "function's timeout or lower INGEST_LAMBDA_RESERVE_S / [lambda] reserve_s"
        )
    stop, cut_after_s = _deadlines(started, budget_s, reserve_s)
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
        # The same names as the command's run_completed line and /metrics.
        **counts(report),
    }
    status = "done" if report.complete else "partial"
    log.info(
        "invocation_finished", status=status, remaining_ms=context.get_remaining_time_in_millis(), **summary
    )
    if report.complete:
        return {"status": "done", "summary": summary}
    return {"status": "partial", "continue": plan.as_event(), "summary": summary}


def _handle_sqs(event: Mapping[str, Any], budget_s: float, started: float) -> dict[str, Any]:
    """Batch messages from an SQS event source mapping (``ingest.queue.lambda_sqs``)."""
    settings = start("lambda", env=_environment(), json_logs=True)
    # As for a scheduled event; a batch cut is answered among the failures.
    stop, cut_after_s = _deadlines(started, budget_s, settings.lambda_reserve_s)
    return asyncio.run(_run_records(settings, event["Records"], stop, cut_after_s))


async def _run_records(
    settings: Settings, records: list[Mapping[str, Any]], stop: Stop, cut_after_s: float
) -> dict[str, Any]:
    # A setting that fails every batch (a missing bucket, a refused token) fails the
    # invocation instead: every message comes back, none is dead-lettered for it.
    loop = asyncio.get_running_loop()
    cut_at = loop.time() + cut_after_s
    await run_checks(settings, tmdb=True, queue=True)
    # The checks' time comes out of the invocation's, not on top of it.
    return await run_records(settings, records, stop, cut_after_s=cut_at - loop.time())


def _deadlines(started: float, budget_s: float, reserve_s: float) -> tuple[Stop, float]:
    """No batch starts once ``reserve_s`` of the invocation remain (the Stop); anything still
    running after the returned number of seconds from now is cancelled, so the handler
    answers before Lambda stops the function."""
    stop = Stop(deadline=started + budget_s - reserve_s)
    cut_after_s = budget_s - min(_CUT_MARGIN_S, reserve_s / 2) - (time.monotonic() - started)
    return stop, cut_after_s


async def _run(settings: Settings, stop: Stop, cut_after_s: float) -> RunReport:
    report = RunReport()
    await stop.finish(run_job(settings, stop=stop, report=report, entry="lambda"), cut_after_s=cut_after_s)
    if stop.cut:
        # The batches in flight did not make it before the deadline: they are cancelled
        # whole (atomic writes) and the next invocation redoes them.
        stop.request("deadline")
        report.complete = False
        report.stopped_because = "deadline"
        log.warning("invocation_cut", cut_after_s=round(cut_after_s, 1))
    return report


def _environment() -> dict[str, str]:
    """The process environment, with the TMDB token fetched from SSM if it is kept there."""
    env = dict(os.environ)
    parameter = env.get(_PARAMETER.env or "", "").strip()
    token, key = row("tmdb.token").env or "", row("tmdb.api_key").env or ""
    if parameter and not env.get(token) and not env.get(key):
        if parameter not in _token_cache:
            _token_cache[parameter] = _read_parameter(parameter)
        # Checked by the token's row like a token from the environment.
        env[token] = _token_cache[parameter]
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
