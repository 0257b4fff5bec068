"""Whether the lake's bucket is there: checked once as the lake opens, so a missing,
forbidden or unreachable bucket is a setting to fix (exit 2), not a failed run."""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import ClientError, NoCredentialsError

from ingest.errors import ConfigError, LakeError, redact_url
from ingest.remote.aws_errors import TRANSPORT, Remote, aws_error

# S3 as messages name it, and what to fix when it refuses the lake's credentials or bucket.
S3 = Remote("S3", LakeError, "check the bucket name, the credentials and their policy, and AWS_ENDPOINT_URL")


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
        raise aws_error(exc, S3, f"checking bucket {bucket}") from None
    except NoCredentialsError as exc:
        raise aws_error(exc, S3, "connect") from None
    except TRANSPORT as exc:
        # Not retried: at the start of a run an endpoint that cannot be reached is a setting.
        endpoint = redact_url(os.environ.get("AWS_ENDPOINT_URL", "AWS"))
        raise ConfigError(
            f"cannot reach S3 at {endpoint} ({type(exc).__name__}): check AWS_ENDPOINT_URL and the network"
        ) from None
