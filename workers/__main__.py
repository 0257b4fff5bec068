"""``python -m workers [--queue] [--port N] [--config PATH]``: the long-running service (the
container's command): the main job on a schedule, or with ``--queue`` a consumer of batch
messages (``ingest.queue.consumer``).

Exit status: 0 after a clean shutdown (SIGTERM/SIGINT); 2 when the configuration cannot
work (bad schedule, no TMDB credentials, port taken, an AWS_ENDPOINT_URL without a scheme),
with one line on stderr. A dependency that is down or missing (the bucket, TMDB, the
queue) does not stop the service: ``/readyz`` says 503 with the reason until it is fixed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from ingest import __version__
from ingest.errors import ConfigError, IngestError, UsageError
from ingest.run.checks import check_endpoints
from ingest.run.start import CommandParser, refuse, start
from ingest.settings.config import Settings, require_job_source
from ingest.settings.table import add_flags, flagged, flags_of
from workers.schedule import Schedule
from workers.service import Service

PROG = "python -m workers"


def _check(settings: Settings, flags: dict[str, Any]) -> None:
    Schedule.parse(settings.service.schedule)
    if settings.service.queue and not settings.queue.url:
        raise ConfigError("--queue needs a queue: set INGEST_QUEUE_URL or [queue] url in config.toml")
    if settings.lake.startswith("s3://") or settings.service.queue:
        # A mistake no recheck can cure ends the start; the rest is /readyz's (workers.ready).
        check_endpoints()
    if not settings.service.queue:
        # The schedule runs the main job: config.toml must say what it is.
        require_job_source(flags)


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(
        PROG,
        "Run the main ingestion job on the schedule in config.toml (or, with --queue, fetch "
        "the batches sent to INGEST_QUEUE_URL); serve /healthz, /readyz and /metrics.",
        exit_codes="exit status: 0 after a clean shutdown (SIGTERM, SIGINT); 2 when the "
        "configuration cannot work (bad schedule, no TMDB credentials, port taken), one line "
        "on stderr; 1 when the queue consumer cannot go on (a failure its readiness checks do not "
        "explain)",
    )
    add_flags(parser, flags_of("workers"))
    parser.add_argument("--version", action="version", version=f"workers {__version__}")
    args = parser.parse_args(argv)
    try:
        settings = start("workers", flagged(args), check=lambda s: _check(s, flagged(args)))
        schedule = Schedule.parse(settings.service.schedule)
        asyncio.run(Service(settings, schedule).run())
    except UsageError as exc:
        return refuse(PROG, exc)
    except IngestError as exc:
        # The queue consumer cannot go on (SQS refuses every call): the orchestrator restarts it.
        return refuse(PROG, exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
