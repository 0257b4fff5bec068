"""``python -m ingest ... --dry-run``: plan as a run would, write nothing, say what it
would fetch.

The genres are planned by the same planner (discover, or the changes feed for an
incremental day), which is told not to freeze anything; a plan already frozen for the
date is read, and only its batches not in the lake count. Nothing is written: no plan, no
marker, no run record. The collections of a genre are known only once its movies are
fetched (they come from the movies' answers), so they are estimated, not planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.reports.counts import TmdbStats
from ingest.reports.progress import counted, human_bytes
from ingest.settings.config import Settings
from ingest.state import open_lake
from ingest.state.markers import missing_batches
from ingest.state.plan import BATCH_SIZE, load_plan
from ingest.stop import Stop
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.media import MOVIE_SOURCE, SERIES_SOURCE
from ingest.tmdb.planner import GenrePlanner


@dataclass(frozen=True, slots=True)
class GenrePreview:
    genre: str
    refresh: str
    planned: int
    to_fetch: int
    batches: int
    frozen: bool
    # "movies" or "series".
    kind: str = "movies"
    # Ids the run would append to the frozen plan (one a --limit run froze short).
    appended: int = 0


@dataclass(slots=True)
class Preview:
    lake: str
    csv: list[tuple[str, int]] = field(default_factory=list)
    genres: list[GenrePreview] = field(default_factory=list)
    # Requests the planning itself made (discover pages, changes pages).
    planning_requests: int = 0


async def preview(settings: Settings) -> Preview:
    """What a run of ``settings`` would do, with nothing written."""
    async with open_lake(settings.lake, settings.upload) as lake:
        found = Preview(lake.url, [(str(p), p.stat().st_size) for p in settings.job.csv])
        if not settings.job.uses_tmdb:
            return found
        stats = TmdbStats()
        async with TmdbClient(settings.tmdb, stats, stop=Stop()) as client:
            planner = GenrePlanner(
                lake, settings.date, settings.job, client, stats, progress=False, append=settings.tmdb.append
            )
            job = settings.job
            chosen = [(g, MOVIE_SOURCE) for g in job.movie_genres] + [
                (g, SERIES_SOURCE) for g in job.series_genres
            ]
            for genre, source in chosen:
                plan = await planner.movies(genre, source)
                target = plan.target(settings.job.limit)
                todo = await missing_batches(lake, plan, target)
                stored = await load_plan(lake, settings.date, source.kind, genre.slug)
                frozen = stored is not None and stored.plan_id == plan.plan_id
                appended = len(plan.ids) - len(stored.ids) if stored is not None and frozen else 0
                fetch = sum(len(b.ids) for b in todo)
                found.genres.append(
                    GenrePreview(
                        genre.slug, plan.refresh, target, fetch, len(todo), frozen, str(source.kind), appended
                    )
                )
        found.planning_requests = stats.requests
    return found


def render(found: Preview, settings: Settings) -> str:
    """The preview for a person: one line per CSV file and genre, then the totals."""
    lines = [f"dry run for {settings.date.isoformat()}, lake {found.lake}: nothing was written"]
    for path, size in found.csv:
        lines.append(f"  csv {path}: {human_bytes(size)}, uploaded unless the lake holds the same bytes")
    requests = 0
    for g in found.genres:
        requests += g.to_fetch
        lines.append(
            f"  {g.genre} {g.kind} ({g.refresh}): {g.planned:,} planned, {g.to_fetch:,} to fetch in "
            f"{counted(g.batches, 'batch', 'batches')} of up to {BATCH_SIZE} ({_where(g)})"
        )
    if found.genres:
        rate = settings.tmdb.rate_per_s
        seconds = requests / rate
        kinds = " and ".join(dict.fromkeys(g.kind for g in found.genres))
        lines.append(
            f"  TMDB: {requests:,} requests for the {kinds} (one each, details with their sub-resources), "
            "about "
            f"{_duration(seconds)} at {rate:g} requests/s; planning took "
            f"{counted(found.planning_requests, 'request')}"
        )
        if settings.job.collections:
            lines.append(
                "  collections: planned once the movies are in (they come from the movies' answers); "
                "about one request per collection more"
            )
    return "\n".join(lines)


def _where(g: GenrePreview) -> str:
    if not g.frozen:
        return "plan not frozen yet"
    if g.appended:
        return (
            f"plan frozen for the date with {g.planned - g.appended:,} ids; the run appends "
            f"{g.appended:,} more it discovers"
        )
    return "plan already frozen for the date"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
