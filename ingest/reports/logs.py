"""Logging: structlog's production stack, JSON lines through orjson when not on a TTY,
console rendering on one.

Event names are snake_case past tense with key-values. ``_plain_values`` is the last
step before rendering: every value becomes plain JSON (dicts and lists stay objects and
arrays; paths, enums and other objects become strings, never a Python repr of a
container), and any string that contains a configured secret is masked. Lines are
written through ``ingest.reports.progress.write_line``, so they never share a terminal line with
a progress bar.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import orjson
import structlog

from ingest.reports.progress import write_line

_SECRETS: list[str] = []


def register_secret(value: str | None) -> None:
    """Remember a secret so no rendered log line can ever contain it."""
    if value and len(value) >= 6 and value not in _SECRETS:
        _SECRETS.append(value)


def _mask(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def _plain(value: Any) -> Any:
    """``value`` as JSON types, masked: recursive, so a dict stays a dict."""
    if isinstance(value, str):
        return _mask(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, Mapping):
        return {_mask(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return _mask(str(value))  # paths, exceptions, anything else: its text, not its repr


def _plain_values(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        event[key] = _plain(value)
    return event


def _json_containers(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """For the console: a dict or list field as compact JSON, not as a Python repr."""
    for key, value in event.items():
        if isinstance(value, dict | list):
            event[key] = orjson.dumps(value).decode()
    return event


class _LineLogger:
    """structlog's Print/BytesLogger, but writing each line through ``write_line``."""

    __slots__ = ()

    def msg(self, message: str | bytes) -> None:
        write_line(message)

    log = debug = info = warn = warning = error = critical = exception = fatal = failure = msg


def _line_logger(*_args: Any) -> _LineLogger:
    return _LineLogger()


def configure_logging(*, json: bool | None = None, level: str | None = None) -> None:
    """Set structlog up once per process; ``json=None`` means JSON unless stderr is a TTY."""
    if json is None:
        json = not sys.stderr.isatty()
    level_no = logging.getLevelName((level or os.environ.get("INGEST_LOG_LEVEL", "INFO")).upper())
    if not isinstance(level_no, int):
        level_no = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _plain_values,
    ]
    if json:
        structlog.configure(
            processors=[*shared, structlog.processors.JSONRenderer(serializer=orjson.dumps)],
            wrapper_class=structlog.make_filtering_bound_logger(level_no),
            logger_factory=_line_logger,
            cache_logger_on_first_use=False,
        )
    else:
        structlog.configure(
            processors=[*shared, _json_containers, structlog.dev.ConsoleRenderer(colors=False)],
            wrapper_class=structlog.make_filtering_bound_logger(level_no),
            logger_factory=_line_logger,
            cache_logger_on_first_use=False,
        )


def mask_secrets(text: str) -> str:
    """``text`` with every registered secret masked: for the error line an entry point prints."""
    return _mask(text)
