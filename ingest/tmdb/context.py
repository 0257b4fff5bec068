"""A run's context for stage 2, and what one selected dataset's part of the stage is.

``RunContext`` is one value instead of the lake, the settings, the counts, the stop and
the progress flag threaded by hand through every layer; ``DatasetRun`` is the face each
dataset's part shows the stage's one runner (``ingest.tmdb.stage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ingest.lake import Lake
from ingest.reports.counts import TmdbStats
from ingest.settings.config import Settings
from ingest.stop import Stop
from ingest.tmdb.client import ClientTuning, TmdbClient


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every part of a run's stage 2 works with."""

    lake: Lake
    settings: Settings
    # The run's TMDB counts (the run report's, which /metrics watches move).
    stats: TmdbStats
    stop: Stop
    progress: bool = False
    # Tests and the benchmark shorten the client's waits.
    tuning: ClientTuning | None = None


class DatasetRun(Protocol):
    """One selected dataset's part of the stage (its movies and collections, say)."""

    async def run(self, ctx: RunContext, client: TmdbClient) -> tuple[bool, list[str]]:
        """Return whether it is whole in the lake now, and what failed."""
        ...
