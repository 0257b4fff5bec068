"""Logging: structlog's production stack, JSON lines through orjson when not on a TTY,
console rendering on one.

Event names are snake_case past tense with key-values. ``_drop_secrets`` is the last
guard before rendering: any value that contains a configured secret is masked.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

_SECRETS: list[str] = []


def register_secret(value: str | None) -> None:
    """Remember a secret so no rendered log line can ever contain it."""
    if value and len(value) >= 6 and value not in _SECRETS:
        _SECRETS.append(value)


def _mask(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return text


def _drop_secrets(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if _SECRETS:
        for key, value in event.items():
            if isinstance(value, str):
                event[key] = _mask(value)
            elif not isinstance(value, int | float | bool) and value is not None:
                event[key] = _mask(str(value))
    return event


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
        _drop_secrets,
    ]
    if json:
        structlog.configure(
            processors=[*shared, structlog.processors.JSONRenderer(serializer=orjson.dumps)],
            wrapper_class=structlog.make_filtering_bound_logger(level_no),
            logger_factory=structlog.BytesLoggerFactory(file=sys.stderr.buffer),
            cache_logger_on_first_use=False,
        )
    else:
        structlog.configure(
            processors=[*shared, structlog.dev.ConsoleRenderer(colors=False)],
            wrapper_class=structlog.make_filtering_bound_logger(level_no),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
            cache_logger_on_first_use=False,
        )


def mask_secrets(text: str) -> str:
    """``text`` with every registered secret masked: for the error line an entry point prints."""
    return _mask(text)
