"""What each run of a date was asked to do, and how it ended: the one owner of
``_ingest/YYYY/MM/DD/runs/<started>-<run_id>.json``.

Every run, whatever started it (the command, a service tick, a Lambda invocation,
``--enqueue``), records its request before it plans anything: the CSV files, the genres
and kinds, the whole catalogue (``--catalogue``, with or without its collections and the
adult movies), the refresh mode, the limit and the entry point. It records its outcome at the
end (``complete``, ``enqueued``, ``stopped``, ``failed``); a run killed on the spot
leaves the request without one. So ``status`` knows what a date was *meant* to hold,
not only what got as far as a plan: a genre asked for and never planned (the run was
killed before reaching it) is missing, and the hint it gives fits how the date was made.
Queue workers record nothing: they carry out batches of a plan that ``--enqueue``
recorded.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import structlog

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.settings.config import Settings
from ingest.state import keys
from ingest.state.dataset import CatalogueDataset, Dataset, GenreDataset
from ingest.state.versions import CURRENT, upgrade

log = structlog.get_logger(__name__)

# How a run was started: the words status uses in its hint.
ENTRIES = ("cli", "service", "lambda")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class RunRequest:
    date: dt.date
    entry: str
    # CSV file paths as given (their lake keys follow from name and date).
    csv: tuple[str, ...]
    # Genre slugs, and which of their datasets the run asked for.
    genres: tuple[str, ...]
    movies: bool
    collections: bool
    refresh: str
    limit: int | None
    enqueue: bool
    # The whole catalogue of the day's ID export (``--catalogue``); ``collections`` then
    # asks for the collection export's too. A record written before these were kept reads False.
    catalogue: bool = False
    include_adult: bool = False
    # TV genre slugs whose series the run asked for (``--media series``; format 2), and
    # whether it asked for the whole TV catalogue (``--catalogue --media series``).
    series: tuple[str, ...] = ()
    catalogue_series: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: str = field(default_factory=lambda: _now().isoformat(timespec="seconds"))
    # Set at the end: "complete", "enqueued", "stopped" or "failed" (with ``error``).
    outcome: str | None = None
    finished_at: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, settings: Settings, entry: str) -> RunRequest:
        job = settings.job
        tmdb = job.uses_tmdb
        return cls(
            date=settings.date,
            entry=entry,
            # Absolute: the status hint that reruns them works from any directory.
            csv=tuple(str(p.absolute()) for p in job.csv),
            genres=tuple(g.slug for g in job.movie_genres),
            # --collections alone fetches the genres' movies first: they are asked for too.
            movies=bool(job.movie_genres),
            collections=(tmdb or job.catalogue) and job.collections,
            refresh=job.refresh,
            limit=job.limit,
            enqueue=job.enqueue,
            catalogue="movies" in job.catalogue_media,
            include_adult=job.catalogue and job.include_adult,
            series=tuple(g.slug for g in job.series_genres),
            catalogue_series="series" in job.catalogue_media,
        )

    @property
    def key(self) -> str:
        stamp = self.started_at.replace("-", "").replace(":", "").replace("+0000", "Z")
        return keys.run(self.date, stamp, self.run_id)

    @property
    def whole_genres(self) -> bool:
        """Whether the run asked for whole genres (no --limit): their completion step
        (``removed.json``, the cursor) is then part of what it asked for."""
        return self.limit is None

    def datasets(self) -> list[Dataset]:
        """The TMDB datasets the run asked for: a catalogue run always asks for its movies,
        ``collections`` for the collections too."""
        kinds = [Kind.MOVIES] * self.movies + [Kind.COLLECTIONS] * self.collections
        asked: list[Dataset] = [GenreDataset(kind, slug=genre) for genre in self.genres for kind in kinds]
        asked += [GenreDataset(Kind.SERIES, slug=genre) for genre in self.series]
        asked += [CatalogueDataset(Kind.SERIES)] * self.catalogue_series
        if self.catalogue:
            asked += [CatalogueDataset(k) for k in [Kind.MOVIES] + [Kind.COLLECTIONS] * self.collections]
        return asked

    def ended(self, outcome: str, error: str | None = None) -> RunRequest:
        return replace(self, outcome=outcome, error=error, finished_at=_now().isoformat(timespec="seconds"))

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "version": CURRENT["run"],
                "run_id": self.run_id,
                "date": self.date.isoformat(),
                "entry": self.entry,
                "started_at": self.started_at,
                "asked": {
                    "csv": list(self.csv),
                    "genres": list(self.genres),
                    "movies": self.movies,
                    "collections": self.collections,
                    "refresh": self.refresh,
                    "limit": self.limit,
                    "enqueue": self.enqueue,
                    "catalogue": self.catalogue,
                    "include_adult": self.include_adult,
                    "series": list(self.series),
                    "catalogue_series": self.catalogue_series,
                },
                "outcome": self.outcome,
                "finished_at": self.finished_at,
                "error": self.error,
            },
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_json(cls, data: bytes, key: str = "a run record") -> RunRequest | None:
        """The request in ``data``; None when it is not one (a damaged record is left out
        of status rather than failing it)."""
        try:
            d: Any = upgrade("run", key, orjson.loads(data))
            asked = d["asked"]
            return cls(
                date=dt.date.fromisoformat(d["date"]),
                entry=str(d["entry"]),
                csv=tuple(str(c) for c in asked["csv"]),
                genres=tuple(str(g) for g in asked["genres"]),
                movies=bool(asked["movies"]),
                collections=bool(asked["collections"]),
                refresh=str(asked["refresh"]),
                limit=None if asked["limit"] is None else int(asked["limit"]),
                enqueue=bool(asked["enqueue"]),
                catalogue=bool(asked.get("catalogue", False)),
                include_adult=bool(asked.get("include_adult", False)),
                series=tuple(str(g) for g in asked["series"]),
                catalogue_series=bool(asked["catalogue_series"]),
                run_id=str(d["run_id"]),
                started_at=str(d["started_at"]),
                outcome=d.get("outcome"),
                finished_at=d.get("finished_at"),
                error=d.get("error"),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


async def record_request(lake: Lake, request: RunRequest) -> None:
    await lake.write(request.key, request.body())


async def read_requests(lake: Lake, date: dt.date) -> list[RunRequest]:
    """The date's run requests, oldest first."""
    found = []
    for key in sorted(await lake.list(keys.runs(date))):
        data = await lake.read(key)
        request = None if data is None else RunRequest.from_json(data, key)
        if request is None:
            log.warning("run_request_unreadable", key=key)
        else:
            found.append(request)
    return found
