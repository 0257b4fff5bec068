"""The Lambda's event, in one form: what an invocation (and its chain) works on.

An event's keys are settings like any other (the rows of ``ingest.settings.table`` that
have an ``event`` name), checked by the same rows above the environment and config.toml.
Two other forms are translated first: the seed's ``{"tipo": "guerra" | "crime" |
"franquias"}`` and an EventBridge "Scheduled Event" (``{}`` for the date of its
``time``). ``plan_from_event`` starts the entry point for an event and resolves it to an
``Invocation``, whose ``as_event`` is the continuation that resumes the same plan.
The handler that runs it is ``ingest.aws_lambda``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ingest.errors import ConfigError
from ingest.run.start import start
from ingest.settings.config import Job, Settings
from ingest.settings.genres import Genre
from ingest.settings.invalid import show
from ingest.settings.table import ROWS
from ingest.settings.types import suggestion

# The seed's event form: {"tipo": ...}.
_TIPOS: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    # tipo: (genres, movies, collections)
    "guerra": (("war",), True, False),
    "crime": (("crime",), True, False),
    "franquias": (("crime", "war"), False, True),
}
_TIPO_KEYS = {"genres", "movies", "collections"}
# The event's keys are settings: the table's rows that have an event name.
_EVENT_KEYS = {r.event for r in ROWS if r.event}


@dataclass(frozen=True, slots=True)
class Invocation:
    """What an invocation (and every invocation chained after it) works on."""

    genres: tuple[Genre, ...]
    movies: bool
    collections: bool
    date: dt.date
    limit: int | None
    # Pinned in the continuation, so a chain finishes the plan its first invocation froze.
    refresh: str
    # The whole catalogue of the day's ID export (``--catalogue``).
    catalogue: bool = False
    include_adult: bool = False
    # What the genres and the catalogue select: movies, series or both.
    media: tuple[str, ...] = ("movies",)

    def as_event(self) -> dict[str, Any]:
        """The event that resumes this plan: every key explicit, the date pinned."""
        return {
            "genres": [g.slug for g in self.genres],
            "movies": self.movies,
            "collections": self.collections,
            "date": self.date.isoformat(),
            "limit": self.limit,
            "refresh": self.refresh,
            # Only for a catalogue run: a genre run's continuation keeps its old shape.
            **({"catalogue": True, "include_adult": self.include_adult} if self.catalogue else {}),
            # Only when series are asked: a movie run's continuation keeps its old shape.
            **({"media": list(self.media)} if self.media != ("movies",) else {}),
        }

    def job(self, max_incremental_gap_days: int) -> Job:
        return Job(
            genres=self.genres,
            movies=self.movies,
            collections=self.collections,
            limit=self.limit,
            refresh=self.refresh,
            max_incremental_gap_days=max_incremental_gap_days,
            catalogue=self.catalogue,
            include_adult=self.include_adult,
            media=self.media,
        )


def plan_from_event(
    event: Any, env: Mapping[str, str], *, json_logs: bool = False
) -> tuple[Settings, Invocation]:
    """Start the Lambda entry point for ``event``; raise ``ConfigError`` if it is wrong.

    The event's keys are settings like any other (rows of ``ingest.settings.table`` with
    an ``event`` name): checked by the same rows, above the environment and config.toml.
    """
    # No TTY in Lambda: one JSON object per line, which CloudWatch Logs Insights parses.
    settings = start("lambda", event=_canonical(event), env=env, json_logs=json_logs)
    job = settings.job
    if not job.genres and not job.catalogue:
        raise ConfigError("no genres: set genres in the event or [job] genres in config.toml")
    if not (job.movies or job.collections or job.catalogue):
        raise ConfigError("the event asks for neither movies nor collections: nothing to do")
    plan = Invocation(
        job.genres,
        job.movies,
        job.collections,
        settings.date,
        job.limit,
        job.refresh,
        job.catalogue,
        job.include_adult,
        job.media,
    )
    # Stage 1 never runs here: a Lambda has no CSV files to read.
    return replace(settings, job=plan.job(job.max_incremental_gap_days)), plan


def _canonical(raw: Any) -> dict[str, Any]:
    """The event in its one form: the seed's ``tipo`` and EventBridge's schedule translated."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"the event must be a JSON object, got {type(raw).__name__}")
    event: dict[str, Any] = {str(k): v for k, v in raw.items()}
    if event.get("detail-type") == "Scheduled Event" and event.get("source") == "aws.events":
        # EventBridge wired straight to the function: a scheduled run of the configured job.
        return {"date": str(event["time"])[:10]} if event.get("time") else {}
    if "tipo" in event:
        event |= _from_tipo(event.pop("tipo"), clash=sorted(event.keys() & _TIPO_KEYS))
    if event.get("catalogue") is True:
        # A selection, as --catalogue is on the command line: the configured genres and
        # their collections only when the event names them.
        event.setdefault("genres", [])
        event.setdefault("collections", False)
    unknown = sorted(set(event) - _EVENT_KEYS)
    if unknown:
        near = suggestion(str(unknown[0]), sorted(_EVENT_KEYS))
        raise ConfigError(
            f"unknown event key(s) {', '.join(map(repr, unknown))}{near}: the event takes "
            f"{', '.join(sorted(_EVENT_KEYS))} (or the seed's tipo)"
        )
    return event


def _from_tipo(tipo: Any, clash: list[str]) -> dict[str, Any]:
    if not isinstance(tipo, str) or tipo.strip().lower() not in _TIPOS:
        raise ConfigError(f'unknown tipo {show(tipo)}: use "guerra", "crime" or "franquias"')
    if clash:
        raise ConfigError(f"the event sets tipo and {', '.join(clash)}: use one form or the other")
    names, movies, collections = _TIPOS[tipo.strip().lower()]
    return {"genres": list(names), "movies": movies, "collections": collections}
