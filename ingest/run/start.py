"""How every entry point starts: one path for the CLI, the service and the Lambda handler.

``start`` registers the secrets it can see before anything is parsed (so no message about
a bad value can carry one), loads the settings, sets logging up, and checks that a job
needing TMDB has credentials. ``refuse`` prints the one line an entry point exits with,
through the same masking every log line gets.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from ingest.errors import ConfigError, IngestError
from ingest.reports.logs import configure_logging, mask_secrets, register_secret
from ingest.settings.config import Settings, load_settings, secret_values
from ingest.settings.table import ROWS

EXIT_CODES = (
    "exit status: 0 done; 2 bad usage, configuration or input (one line on stderr, nothing "
    "lost); 1 a failure that survived retries, or a run stopped before its end (run the same "
    "command again to resume); 130 interrupted (Ctrl-C)"
)


class CommandParser(argparse.ArgumentParser):
    """The parser of every command (``ingest``, ``ingest status``, ``workers``): a usage
    error is one line naming the command's --help, and --help ends with the commands
    beside it, the environment variables it reads and the exit codes."""

    def __init__(
        self,
        prog: str,
        description: str,
        *,
        commands: Iterable[tuple[str, str]] = (),
        env: bool = True,
        exit_codes: str = EXIT_CODES,
    ) -> None:
        parts = []
        if commands:
            parts.append("commands:\n" + "\n".join(f"  {name:<28}{what}" for name, what in commands))
        if env:
            parts.append("environment:\n" + "\n".join(f"  {n:<28}{h}" for n, h in env_help()))
        parts.append(exit_codes)
        super().__init__(
            prog=prog,
            description=description,
            epilog="\n\n".join(parts),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: the contract promises one clear line.
        self.exit(2, f"{self.prog}: {message}{self._closest_flag(message)} (see {self.prog} --help)\n")

    def _closest_flag(self, message: str) -> str:
        """A mistyped flag gets a did-you-mean, as a mistyped config.toml key does."""
        if not message.startswith("unrecognized arguments: "):
            return ""
        words = message.removeprefix("unrecognized arguments: ").split()
        flag = next((w.split("=", 1)[0] for w in words if w.startswith("--")), None)
        if flag is None:
            return ""
        from ingest.settings.types import suggestion

        return suggestion(flag, [o for o in self._option_string_actions if o.startswith("--")])


def env_help() -> list[tuple[str, str]]:
    """The environment variables the settings table reads, with their help, and AWS's."""
    ours = [(r.env, r.help) for r in ROWS if r.env is not None]
    aws = [("AWS_ENDPOINT_URL", "an S3/SQS endpoint other than AWS's (LocalStack, moto, ...)")]
    return [*ours, *aws, ("AWS_PROFILE, AWS_ACCESS_...", "AWS credentials: the standard chain")]


# What to do without TMDB credentials, by entry point: each can offer different ways out.
NO_CREDENTIALS = {
    "ingest": "stage 2 (TMDB) needs credentials: export TMDB_READ_ACCESS_TOKEN (or TMDB_API_KEY), "
    "run stage 1 alone with --csv PATH, or try it offline against the bundled TMDB stand-in "
    "with `python3 dev.py run`",
    "workers": "the job fetches from TMDB but no credentials are set: export "
    "TMDB_READ_ACCESS_TOKEN (or TMDB_API_KEY) for the service",
    "lambda": "stage 2 (TMDB) needs credentials: set TMDB_TOKEN_PARAMETER (an SSM SecureString) "
    "or TMDB_READ_ACCESS_TOKEN in the function's environment",
}


def start(
    entry: str,
    flags: Mapping[str, Any] | None = None,
    *,
    event: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    json_logs: bool | None = None,
    check: Callable[[Settings], object] | None = None,
) -> Settings:
    """Settings for entry point ``entry`` (a key of ``NO_CREDENTIALS``), logging ready.

    ``check`` is the entry point's own check of the settings (the service's schedule),
    made before the credentials: a wrong value is worth hearing about first.
    """
    env = os.environ if env is None else env
    for secret in secret_values(env):
        register_secret(secret)
    settings = load_settings(flags, env, event=event)
    configure_logging(json=json_logs, level=settings.log_level)
    if check is not None:
        check(settings)
    require_credentials(settings, entry)
    return settings


def require_credentials(settings: Settings, entry: str) -> None:
    """Refuse a job that needs TMDB when no token or key is set: every request would fail.

    An entry point without a line in ``NO_CREDENTIALS`` (``status``) never calls TMDB.
    """
    hint = NO_CREDENTIALS.get(entry)
    if hint and (settings.job.uses_tmdb or settings.job.catalogue) and not settings.tmdb.has_credentials:
        raise ConfigError(hint)


def refuse(prog: str, exc: IngestError, hint: str = "") -> int:
    """Print the entry point's one line for ``exc`` (secrets masked); return its exit code."""
    print(mask_secrets(f"{prog}: {exc}{hint}"), file=sys.stderr)
    return exc.exit_code
