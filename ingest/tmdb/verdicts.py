"""What one answer from TMDB means: the one place that classifies a response.

    200 with a JSON body ...... OK
    429 ....................... THROTTLED: retried after Retry-After, or backoff if absent
    5xx, 408, bad body ........ RETRY
    401 ....................... AUTH: fatal
    404 ....................... NOT_FOUND: the record is skipped
    any other status .......... REFUSED

Transport failures (timeouts, dropped connections) are RETRY answers made by the client;
so is a 200 whose body is not what was asked for (``Check``: another id, a page without
the fields a walk needs), which a proxy or a misbehaving server can send.
"""

from __future__ import annotations

import email.utils
import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# What a caller asks of an OK answer's parsed body: None when it will do, else what is wrong.
Check = Callable[[Any], str | None]


def same_id(expected: int) -> Check:
    """The check of a details or collection answer: its ``id`` is the integer asked for."""

    def check(data: Any) -> str | None:
        got = data.get("id") if isinstance(data, dict) else None
        if type(got) is int and got == expected:
            return None
        return f"200 for id {expected} with id {_shown(got)}"

    return check


def _shown(value: Any) -> str:
    text = orjson.dumps(value).decode() if value is not None else "missing"
    return text if len(text) <= 40 else text[:37] + "..."


class Verdict(enum.Enum):
    OK = "ok"
    RETRY = "retry"
    THROTTLED = "throttled"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Answer:
    verdict: Verdict
    status: int
    # The body of an OK answer, as sent and parsed.
    body: bytes = b""
    data: Any = None
    # What went wrong, for messages (never holds a secret).
    detail: str = ""
    retry_after_s: float | None = None

    @property
    def reason(self) -> str:
        """A short name for retry summaries: the status, or the transport failure's kind."""
        return str(self.status) if self.status else self.detail.split(":", 1)[0]


def read_answer(status: int, body: bytes, headers: Mapping[str, str]) -> Answer:
    """Decide what one HTTP answer from TMDB means (see the module docstring)."""
    if status == 200:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return Answer(Verdict.RETRY, status, detail="200 with a body that is not JSON")
        if not isinstance(data, dict):
            return Answer(Verdict.RETRY, status, detail="200 with a body that is not an object")
        return Answer(Verdict.OK, status, body=body, data=data)
    detail = f"{status}{_tmdb_reason(body)}"
    if status == 429:
        return Answer(
            Verdict.THROTTLED,
            status,
            detail=detail,
            retry_after_s=parse_retry_after(headers.get("Retry-After")),
        )
    if status >= 500 or status == 408:
        return Answer(
            Verdict.RETRY,
            status,
            detail=detail,
            retry_after_s=parse_retry_after(headers.get("Retry-After")),
        )
    if status == 401:
        return Answer(Verdict.AUTH, status, detail=detail)
    if status == 404:
        return Answer(Verdict.NOT_FOUND, status, detail=detail)
    return Answer(Verdict.REFUSED, status, detail=detail)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - time.time())


def _tmdb_reason(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    if isinstance(data, dict) and "status_code" in data:
        return f", status_code {data['status_code']}: {str(data.get('status_message', ''))[:120]}"
    return ""
