"""What an AWS failure means, for S3 and SQS alike, and the one retry layer above botocore.

One table sorts the SDK's exceptions into this package's error tree (after httpx's
``map_exceptions``: the most specific class wins; a ``ClientError`` is then sorted by
its code, S3's and SQS's spellings side by side)::

    NoCredentialsError ........................ ConfigError (exit 2), one message
    AccessDenied, bad keys, expired token ..... ConfigError: fix the credentials or policy
    NoSuchBucket, NonExistentQueue ............ ConfigError: fix the bucket or queue URL
    5xx, SlowDown, throttling, RequestTimeout,
    ConditionalRequestConflict (409),
    connection and timeout errors, Unsent ..... transient: retried, then RetryableError
    any other refusal ......................... the remote's ``refused`` (S3: LakeError)
    an error of ours (InputError, ...) ........ itself

Clients run botocore at one attempt; ``retrying`` tries a call at most ``attempts``
times, waiting a ``Backoff`` between transient failures and noting each retry in the
remote's ``RetrySummary``; the last error says the retries ran out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from ingest.errors import ConfigError, IngestError, RetryableError
from ingest.remote.retry import Backoff, RetrySummary

log = structlog.get_logger(__name__)

NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "or run with an instance, task or function role"
)


class Unsent(Exception):
    """Some entries of a batch call were refused while the call went through: the call is
    made again for them, like any transient failure."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class DeadlinePassed(asyncio.TimeoutError):
    """An attempt that took longer than its total (a store that stalls, or drips): as
    transient as any timeout, and its message says which total."""


@dataclass(frozen=True, slots=True)
class Remote:
    """An AWS service as messages name it."""

    name: str
    # What a refusal that is neither a setting nor transient becomes.
    refused: type[IngestError]
    # What to fix when the credentials, or the thing addressed, are refused.
    fix: str


# ClientError codes, by meaning.
_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
    }
)
_MISSING = frozenset(
    {
        "NoSuchBucket",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NonExistentQueue",
    }
)
# The store refused the checksum sent with the bytes (wrong, or in a form it cannot read):
# the same bytes carry the same checksum again, so no rerun helps.
_CHECKSUM = frozenset(
    {"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "InvalidChecksum", "InvalidChecksumType"}
)
# ConditionalRequestConflict (409): a conditional write raced another write of the key;
# S3 asks for the request again.
_TRANSIENT = frozenset(
    {
        "SlowDown",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "ConditionalRequestConflict",
        "ThrottlingException",
        "RequestThrottled",
    }
)
# The transport's failures: worth another attempt.
TRANSPORT = (
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    ConnectTimeoutError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)


def _code(exc: ClientError) -> tuple[str, int]:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return str(exc.response.get("Error", {}).get("Code", "")), status


def transient_reason(exc: BaseException) -> str | None:
    """Why a failure is worth another attempt (the code, or the transport error's kind),
    or None when it is not."""
    if isinstance(exc, Unsent):
        return exc.code or "unsent"
    if isinstance(exc, DeadlinePassed):
        return str(exc)
    if isinstance(exc, ClientError):
        code, status = _code(exc)
        if code not in _DENIED | _MISSING and (status >= 500 or code in _TRANSIENT):
            return code or str(status)
        return None
    if isinstance(exc, TRANSPORT):
        return type(exc).__name__
    return None


def aws_error(exc: BaseException, remote: Remote, what: str) -> Exception:
    """``exc`` as this package's error (the table above; one place decides)."""
    if isinstance(exc, IngestError):
        return exc
    if isinstance(exc, NoCredentialsError):
        return ConfigError(NO_CREDENTIALS)
    reason = transient_reason(exc)
    if reason is not None:
        return RetryableError(f"{remote.name} {what} failed ({reason})")
    if isinstance(exc, ClientError):
        code, status = _code(exc)
        if code in _DENIED or code in _MISSING:
            return ConfigError(f"{remote.name} refused {what} ({code}): {remote.fix}")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in _CHECKSUM:
            return remote.refused(
                f"{remote.name} refused the checksum sent with {what} ({code}: {message}): the store "
                "says the bytes do not match it, or cannot read its form; a rerun sends the same "
                "checksum and fails the same way: check the file did not change, and that the store "
                "supports S3's checksums (CRC64NVME, CRC32, SHA-256)"
            )
        return remote.refused(f"{remote.name} refused {what} ({code or status}: {message})")
    if isinstance(exc, BotoCoreError):
        return remote.refused(f"{remote.name} client error during {what}: {exc}")
    return remote.refused(f"unexpected error during {what}: {type(exc).__name__}: {exc}")


async def retrying(
    remote: Remote,
    what: str,
    attempt_once: Callable[[], Awaitable[Any]],
    *,
    attempts: int,
    backoff: Backoff,
    rng: random.Random,
    summary: RetrySummary,
) -> Any:
    """Run ``attempt_once`` until it succeeds, at most ``attempts`` times, backing off
    between transient failures; anything else is raised through the table at once."""
    for attempt in range(1, attempts + 1):
        try:
            return await attempt_once()
        except Exception as exc:
            reason = transient_reason(exc)
            if reason is None:
                raise aws_error(exc, remote, what) from exc
            if attempt >= attempts:
                raise RetryableError(
                    f"{remote.name} {what} failed after {attempts} attempts ({reason})"
                ) from exc
            delay = backoff.delay_s(attempt, rng)
            summary.note(reason, f"{what}: {reason}")
            log.debug(
                "aws_call_retried", remote=remote.name, what=what, attempt=attempt, delay_s=round(delay, 2)
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: attempts is at least 1")
