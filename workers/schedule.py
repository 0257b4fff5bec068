"""When the service runs the job next: a daily ``"HH:MM"`` in UTC, or a cron expression.

``"03:00"`` is shorthand for the cron expression ``"0 3 * * *"``; both are evaluated by
cronsim, a small, dependency-free evaluator that mirrors Debian cron's semantics
(day-of-month/day-of-week OR rule, ``L``, ``#``). Times are always UTC, so there is no
daylight-saving ambiguity to resolve.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from cronsim import CronSim, CronSimError

from ingest.errors import ConfigError

_DAILY = re.compile(r"^(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Schedule:
    # What the user wrote, kept for log lines and /healthz.
    text: str
    # The five-field cron expression it means.
    cron: str

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Validate ``[service] schedule``; raise ``ConfigError`` saying how to fix it."""
        stripped = text.strip()
        daily = _DAILY.match(stripped)
        if daily:
            return cls(stripped, f"{int(daily['m'])} {int(daily['h'])} * * *")
        fields = stripped.split()
        if len(fields) != 5:
            raise ConfigError(
                f"[service] schedule {text!r} is neither HH:MM nor a five-field cron "
                'expression: use e.g. "03:00" (daily, UTC) or "0 3 * * 1-5"'
            )
        cron = " ".join(fields)
        try:
            CronSim(cron, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        except CronSimError as exc:
            raise ConfigError(
                f"[service] schedule {text!r} is not a valid cron expression ({exc}): "
                'fix it, e.g. "0 3 * * *" for 03:00 UTC every day'
            ) from None
        return cls(stripped, cron)

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first tick strictly after ``moment`` (which must be timezone-aware), in UTC."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        return next(CronSim(self.cron, moment.astimezone(dt.UTC)))
