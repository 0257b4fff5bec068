"""``python -m workers [--config PATH]``: the long-running service (the container's command).

Exit status: 0 after a clean shutdown (SIGTERM/SIGINT); 2 when the configuration cannot
work (bad schedule, no TMDB credentials, port taken), with one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import structlog

from ingest.config import Overrides, load_settings
from ingest.errors import ConfigError, UsageError
from ingest.logs import configure_logging, register_secret
from workers.schedule import Schedule
from workers.service import Service


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers",
        description="Run the main ingestion job on the schedule in config.toml; serve /healthz and /metrics.",
    )
    parser.add_argument("--config", type=Path, help="config file (default ./config.toml)")
    args = parser.parse_args(argv)
    configure_logging()
    try:
        settings = load_settings(Overrides(config=args.config))
        register_secret(settings.tmdb.token)
        register_secret(settings.tmdb.api_key)
        schedule = Schedule.parse(settings.service.schedule)
        if settings.job.uses_tmdb and not settings.tmdb.has_credentials:
            # The environment cannot change under a running process: every tick would fail.
            raise ConfigError(
                "the job fetches from TMDB but no credentials are set: export "
                "TMDB_READ_ACCESS_TOKEN (or TMDB_API_KEY) for the service"
            )
        asyncio.run(Service(settings, schedule).run())
    except UsageError as exc:
        structlog.get_logger(__name__).error("service_refused", error=type(exc).__name__)
        print(f"python -m workers: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
