"""What an S3 failure means: the one place that sorts the SDK's exceptions into this
package's error tree, and tells a transient failure (worth another attempt) from the rest.

    AccessDenied, NoSuchBucket, bad keys ... ConfigError (exit 2)
    5xx, SlowDown, RequestTimeout,
    ConditionalRequestConflict (409),
    connection and timeout errors .......... transient: retried, then RetryableError
    any other refusal ...................... LakeError
    an error of ours (InputError, ...) ..... itself
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from ingest.errors import ConfigError, IngestError, LakeError, RetryableError, redact_url

_FATAL_ACCESS = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NoSuchBucket",
    "ExpiredToken",
    "InvalidToken",
}
# ConditionalRequestConflict (409): a conditional write raced another write of the key;
# S3 asks for the request again.
_RETRYABLE_CODES = {
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "503",
    "ConditionalRequestConflict",
}
TRANSPORT = (
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    ConnectTimeoutError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)


def transient_reason(exc: BaseException) -> str | None:
    """Why a failure is worth another attempt (the S3 code, or the transport error's
    kind), or None when it is not."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code not in _FATAL_ACCESS and (status >= 500 or code in _RETRYABLE_CODES):
            return code or str(status)
        return None
    if isinstance(exc, TRANSPORT):
        return type(exc).__name__
    return None


def classify(exc: BaseException, what: str) -> Exception:
    """Turn an SDK exception into this package's error tree (one place decides)."""
    if isinstance(exc, IngestError):
        return exc
    if isinstance(exc, NoCredentialsError):
        return ConfigError(
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run with an instance/task role"
        )
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _FATAL_ACCESS:
            return ConfigError(
                f"S3 refused {what} ({code}): check the bucket name, the credentials and "
                "their policy, and AWS_ENDPOINT_URL"
            )
        if status >= 500 or code in _RETRYABLE_CODES:
            return RetryableError(f"S3 {what} failed ({code or status})")
        return LakeError(f"S3 refused {what} ({code or status}: {err.get('Message', '')})")
    if isinstance(exc, TRANSPORT):
        return RetryableError(f"S3 {what} failed ({type(exc).__name__})")
    if isinstance(exc, BotoCoreError):
        return LakeError(f"S3 client error during {what}: {exc}")
    return LakeError(f"unexpected error during {what}: {type(exc).__name__}: {exc}")


async def check_bucket(client: Any, bucket: str) -> None:
    """Fail with a clear setting error when ``bucket`` is missing, forbidden or unreachable."""
    try:
        await client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            raise ConfigError(
                f"bucket {bucket!r} does not exist: create it "
                f"(aws s3 mb s3://{bucket}) or fix --lake/INGEST_LAKE"
            ) from None
        if code in ("403", "AccessDenied"):
            raise ConfigError(
                f"access to bucket {bucket!r} is denied: check the AWS credentials and their policy"
            ) from None
        raise classify(exc, f"checking bucket {bucket}") from None
    except NoCredentialsError as exc:
        raise classify(exc, "connect") from None
    except TRANSPORT as exc:
        # Not retried: at the start of a run an endpoint that cannot be reached is a setting.
        endpoint = redact_url(os.environ.get("AWS_ENDPOINT_URL", "AWS"))
        raise ConfigError(
            f"cannot reach S3 at {endpoint} ({type(exc).__name__}): check AWS_ENDPOINT_URL and the network"
        ) from None
