"""Whether the lake's bucket is there: checked as the lake opens, so a missing,
forbidden or unreachable bucket is a setting to fix (exit 2), not a failed run.

The check is retried like every other S3 call of the lake (``retry``: ``S3Lake``'s one
retry layer, its attempts and budget): a 503 SlowDown at the first request is the same
passing weather as at the thousandth. An endpoint that does not answer at all is a
setting (exit 2) at once: nothing listens where the run was pointed."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError

from ingest.errors import ConfigError, LakeError, redact_url
from ingest.remote.aws_errors import TRANSPORT, Remote, aws_error

# S3 as messages name it, and what to fix when it refuses the lake's credentials or bucket.
S3 = Remote("S3", LakeError, "check the bucket name, the credentials and their policy, and AWS_ENDPOINT_URL")


Retry = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


async def check_bucket(client: Any, bucket: str, retry: Retry | None = None) -> None:
    """Fail with a clear setting error when ``bucket`` is missing, forbidden or unreachable."""

    async def head() -> Any:
        try:
            return await client.head_bucket(Bucket=bucket)
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
            if retry is None:
                raise aws_error(exc, S3, f"checking bucket {bucket}") from None
            raise
        except TRANSPORT as exc:
            # Not retried: nothing answers at the endpoint the run was given, a setting
            # (a 503 is a store that is there and busy, retried above).
            raise _unreachable(exc) from None

    try:
        await (head() if retry is None else retry(head))
    except NoCredentialsError as exc:
        raise aws_error(exc, S3, "connect") from None
    except TRANSPORT as exc:
        raise _unreachable(exc) from None


def _unreachable(exc: BaseException) -> ConfigError:
    endpoint = redact_url(os.environ.get("AWS_ENDPOINT_URL", "AWS"))
    return ConfigError(
        f"cannot reach S3 at {endpoint} ({type(exc).__name__}): check AWS_ENDPOINT_URL and the network"
    )
