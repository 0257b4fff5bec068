"""The errors of an ingestion run, and what each one means to the person running it.

Only the entry points (``ingest.cli``, ``ingest.aws_lambda``, ``workers``) turn these
into exit codes and one-line messages; everything below them raises and lets go.

    IngestError
     ├── UsageError ............ exit 2: the user must change something before rerunning
     │    ├── ConfigError ...... a flag, variable or config.toml value is wrong
     │    ├── InputError ....... a CSV path is missing, unreadable, empty, a directory, or
     │    │                      changed while it was being uploaded
     │    ├── AuthError ........ TMDB refused the credentials (401)
     │    └── StateVersionError  a state file was written by a newer release (ingest.state)
     └── RunError .............. exit 1: survived retries; rerunning the same command resumes
          ├── RetryableError ... 429, 5xx, timeouts, dropped connections (retried before it escapes)
          ├── RemoteError ...... any other refusal from TMDB that retrying cannot fix
          ├── UnreachableError . TMDB stopped answering at all mid-run (no new work started)
          ├── Interrupted ...... a stop (SIGTERM) cut a wait short; the run ends as stopped
          └── LakeError ........ the lake (S3 or the directory) refused a read or a write

``SkippedRecord`` is not an error of the run: one record (a movie TMDB no longer has)
is counted and skipped, and the run goes on.

Messages never carry a secret: URLs pass through ``redact_url`` before they are kept.
"""

from __future__ import annotations

import re
from typing import NoReturn

_SECRET_QUERY = re.compile(r"(?i)(api_key|access_token|token|signature|x-amz-[a-z-]+)=[^&\s]*")


def redact_url(url: str) -> str:
    """Return ``url`` with the values of secret-bearing query parameters replaced."""
    return _SECRET_QUERY.sub(lambda m: f"{m.group(1)}=***", url)


class IngestError(Exception):
    """Base of everything this package raises on purpose."""

    exit_code = 1


class UsageError(IngestError):
    """The user must change the command, the environment, config.toml or the input."""

    exit_code = 2


class ConfigError(UsageError):
    """A setting is missing or has a value the pipeline cannot use."""


class InputError(UsageError):
    """A file given to stage 1 cannot be ingested as it is."""

    @classmethod
    def changed(cls, path: object) -> InputError:
        """The file changed (grew, shrank, was rewritten) while it was being ingested: one
        wording for every place that notices, whichever lake it was going to."""
        return cls(f"{path} changed while it was being ingested: rerun once it is complete")


class AuthError(UsageError):
    """TMDB answered 401: the token or key is missing, wrong or revoked."""


class StateVersionError(UsageError):
    """A state file of a format version newer than this code reads: never guessed at."""


class RunError(IngestError):
    """A failure that survived its retries; the same command resumes the run."""

    exit_code = 1


class RetryableError(RunError):
    """A transient failure: worth another attempt after a pause."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        # The server's own hint (Retry-After), which beats our backoff schedule when present.
        self.retry_after_s = retry_after_s


class RemoteError(RunError):
    """TMDB refused a request in a way another attempt will not change."""

    def __init__(self, message: str, *, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = redact_url(url)


class UnreachableError(RunError):
    """Many connection attempts in a row got no answer at all: the remote is down."""


class Interrupted(RunError):
    """A stop cut a wait short (a slow rate limiter); what was not finished is redone."""


class LakeError(RunError):
    """The lake refused a read or a write."""


class SkippedRecord(Exception):
    """One record cannot be had (TMDB 404); it is counted, logged and left out."""

    def __init__(self, message: str, *, item_id: int) -> None:
        super().__init__(message)
        self.item_id = item_id


# What explains a failed TaskGroup best, most telling first.
_PRIMARY: tuple[type[IngestError], ...] = (AuthError, UsageError, LakeError, IngestError)


def raise_primary(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Re-raise the error that explains a failed TaskGroup best (a 401 first, then other
    usage errors, then the lake, then any error of ours; else the first error)."""
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup[BaseException]) -> None:
        for e in g.exceptions:
            if isinstance(e, BaseExceptionGroup):
                walk(e)
            else:
                leaves.append(e)

    walk(group)
    for kind in _PRIMARY:
        for e in leaves:
            if isinstance(e, kind):
                raise e from None
    raise leaves[0] if leaves else group
