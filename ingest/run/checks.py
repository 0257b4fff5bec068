"""Start-up checks: the lake, TMDB's answer to the credentials, and the queue, before any work.

Every entry point goes through here when it starts (``ingest.run.job.run_job`` for a one-shot
run, a service tick and a Lambda invocation; ``ingest status`` for the lake alone; the
service's readiness, ``workers.ready``, for all three; the Lambda's SQS side), so a
mistake in a setting is one line naming the setting, within seconds, never a traceback
or a run that retries for a minute before it says what is wrong:

    AWS_ENDPOINT_URL without a scheme, or a port no socket has ... ConfigError
    the bucket missing or forbidden, S3 not answering ............ ConfigError
    TMDB not answering at TMDB_BASE_URL .......................... ConfigError
    TMDB answering 404 (or another refusal) at /3/authentication . ConfigError
    TMDB answering 401 (token or key refused) .................... AuthError
    the queue missing or forbidden, SQS not answering ............ ConfigError

TMDB is asked ``GET /3/authentication``, its own check of a token or key (one request,
paced like every other, at most three attempts). A TMDB that answers 5xx for every
attempt stays a ``RetryableError`` (exit 1): that is an outage, not a setting.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from urllib.parse import urlsplit

import structlog

from ingest.errors import ConfigError, RemoteError, SkippedRecord
from ingest.lake import Lake, UploadTuning
from ingest.settings.config import Settings
from ingest.settings.invalid import show
from ingest.settings.lake_url import s3_guess
from ingest.settings.types import bad_port, without_userinfo
from ingest.state import open_lake

log = structlog.get_logger(__name__)

# The AWS SDK's endpoint variables: the general one, and those of the services used here.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS")
_TMDB_ROOT = "TMDB_BASE_URL (or [tmdb] base_url in config.toml)"
_TMDB_ATTEMPTS = 3

# A check by name; what it returns (the lake's location) is logged once all have passed.
Check = tuple[str, Callable[[], Awaitable[object]]]


def checks(settings: Settings, *, tmdb: bool, queue: bool) -> list[Check]:
    """The checks an entry point needs, by name, in the order they run: the lake always,
    TMDB when ``tmdb`` (and credentials are set), the queue when ``queue`` (and one is)."""
    return [
        ("lake", lambda: check_lake(settings.lake, settings.upload)),
        *_beside_lake(settings, tmdb=tmdb, queue=queue),
    ]


def _beside_lake(settings: Settings, *, tmdb: bool, queue: bool) -> list[Check]:
    """The checks after the lake's: TMDB when ``tmdb`` (and credentials are set), the
    queue when ``queue`` (and one is)."""
    found: list[Check] = []
    if tmdb and settings.tmdb.has_credentials:
        found.append(("tmdb", lambda: check_tmdb(settings)))
    if tmdb and settings.job.catalogue:
        found.append(("exports", lambda: check_exports(settings)))
    if queue and settings.queue.url:
        url = settings.queue.url
        found.append(("queue", lambda: check_queue(url)))
    return found


async def run_checks(settings: Settings, *, tmdb: bool, queue: bool) -> None:
    """Run the checks an entry point needs; raise the first failure (a ``UsageError`` for a
    setting, a ``RunError`` for an outage). Nothing is logged before they all pass, so a
    refusal is the one line on stderr."""
    found = {name: await check() for name, check in checks(settings, tmdb=tmdb, queue=queue)}
    log_opened(settings.lake, str(found["lake"]))


@asynccontextmanager
async def checked_lake(settings: Settings, *, tmdb: bool, queue: bool) -> AsyncIterator[Lake]:
    """``run_checks``, keeping the lake its first check opened open for the run: one S3
    client (its service model, its connection pool) and one bucket check a run, not two.
    The checks run in the same order and fail the same way; nothing is logged before they
    all pass."""
    if settings.lake.startswith("s3://"):
        check_endpoints()
    async with open_lake(settings.lake, settings.upload) as lake:
        for _, check in _beside_lake(settings, tmdb=tmdb, queue=queue):
            await check()
        log_opened(settings.lake, lake.location)
        yield lake


def check_endpoints(env: Mapping[str, str] | None = None) -> None:
    """Refuse an AWS endpoint variable the SDK could not use, naming the variable."""
    env = os.environ if env is None else env
    for name in ENDPOINT_VARIABLES:
        value = env.get(name, "").strip()
        if not value:
            continue
        shown = show(without_userinfo(value))
        try:
            parts = urlsplit(value)
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            guess = f": did you mean http://{value}?" if "://" not in value else ""
            raise ConfigError(
                f"{name} must be an http:// or https:// URL such as http://127.0.0.1:4566, got {shown}{guess}"
            )
        if bad_port(parts.netloc):
            raise ConfigError(f"{name} must have a port between 1 and 65535, got {shown}")


async def check_lake(url: str, tuning: UploadTuning | None = None) -> str:
    """Open the lake (S3: the bucket exists and may be used); return its ``location``."""
    if url.startswith("s3://"):
        check_endpoints()
    async with open_lake(url, tuning) as lake:
        return lake.location


def log_opened(url: str, location: str) -> None:
    """One line saying where the lake is (a relative path is read from the current
    directory, so the absolute one is what a person needs to see)."""
    if url.startswith("s3://") or os.path.isdir(location):
        log.info("lake_opened", lake=location)
        return
    # A new local directory named like a bucket: say which S3 URL it may have meant.
    guess = s3_guess(url)
    new = "no such directory yet (a run creates it)"
    note = f"{new}; for S3 write {guess}" if guess else new
    (log.warning if guess else log.info)("lake_opened", lake=location, note=note)


async def check_tmdb(settings: Settings) -> None:
    """Ask TMDB whether it takes the credentials: 401 is ``AuthError``, no answer or a 404
    (not TMDB's API root) a ``ConfigError`` naming ``TMDB_BASE_URL``."""
    # Imported here: a run without TMDB never pays for the client's imports.
    from ingest.reports.counts import TmdbStats
    from ingest.tmdb.client import TmdbClient

    # A few attempts, not a run's budget: a TMDB failing at start is said within seconds.
    tmdb = replace(settings.tmdb, max_attempts=min(settings.tmdb.max_attempts, _TMDB_ATTEMPTS))
    async with TmdbClient(tmdb, TmdbStats()) as client:
        try:
            await client.get("/authentication")
        except SkippedRecord:
            raise ConfigError(
                f"TMDB at {client.shown_root} has no /authentication (404): {_TMDB_ROOT} must be "
                "TMDB's API root without /3, such as https://api.themoviedb.org"
            ) from None
        except RemoteError as exc:
            raise ConfigError(
                f"TMDB at {client.shown_root} refused /authentication ({exc.status}): check {_TMDB_ROOT}"
            ) from None


async def check_exports(settings: Settings) -> None:
    """The date's movie ID export (or the day before's) is there: a catalogue run plans
    from it, and neither being published is a setting to fix (exit 2), found before
    anything is logged."""
    from ingest.tmdb.exports import open_export

    async with open_export(settings.tmdb.exports_url, "movie", settings.date):
        pass


async def check_queue(url: str) -> None:
    """Read the queue's attributes: it exists, and the credentials may use it. Retried as
    every SQS call is (``ingest.queue.sqs``: its attempts and backoff), so a throttled or
    busy SQS at start is passing weather; an endpoint that does not answer at all is a
    setting at once."""
    import random

    import aioboto3
    from aiobotocore.config import AioConfig

    from ingest.errors import RetryableError
    from ingest.queue import sqs
    from ingest.remote.aws_errors import TRANSPORT, Remote, retrying
    from ingest.remote.retry import RetrySummary

    check_endpoints()
    config = AioConfig(
        retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10
    )
    remote = Remote("SQS", RetryableError, f"create the queue or fix INGEST_QUEUE_URL ({url})")
    async with aioboto3.Session().client("sqs", config=config) as client:

        async def attributes() -> object:
            try:
                return await client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            except TRANSPORT as exc:
                endpoint = without_userinfo(os.environ.get("AWS_ENDPOINT_URL", "AWS"))
                raise ConfigError(
                    f"cannot reach SQS at {endpoint} ({type(exc).__name__}) for INGEST_QUEUE_URL: "
                    "check AWS_ENDPOINT_URL and the network"
                ) from None

        # The summary is not flushed: a start that passes says nothing, one that fails says
        # its one line (the last error names the attempts).
        await retrying(
            remote,
            "read attributes",
            attributes,
            attempts=sqs.ATTEMPTS,
            backoff=sqs.BACKOFF,
            rng=random.Random(),
            summary=RetrySummary("sqs"),
        )
