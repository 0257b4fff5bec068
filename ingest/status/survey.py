"""What the lake holds for one processing date, read from the lake alone.

No TMDB credentials and no run settings beyond the lake and the date: the CSV manifests
and the TMDB plans say what was planned, the objects under ``Raw/`` and the batch
markers say what landed. The lake's state is read only through ``ingest.state`` (plans,
markers, manifests, cursors, ``removed.json``, run records), so its layout has one owner,
and whether a dataset is complete is ``ingest.state.completion``'s rule. The date's TMDB
state and data files are listed once (``ingest.state.listing``), at once, and shared by
every dataset's row, genres' and the catalogue's alike.

A CSV file counts as in the lake when its object's size and the SHA-256 recorded with it
at upload match its manifest (no re-hash: that would read every byte back). A TMDB
dataset counts as in the lake when every batch of its plan's target is
(``ingest.state.markers.batches_in_lake``, the crawler's and the queue's definition too) and,
for a whole-genre run, its completion step was taken (``ingest.state.completion``).

What the date was *asked* for comes from the runs' requests (``ingest.state.runs``): a CSV file
or a genre's dataset a run asked for and never got as far as planning is missing too
(``unplanned``), and the hint names how the date was made.
"""

from __future__ import annotations

import datetime as dt

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.state.completion import finishing, whole_plan
from ingest.state.cursor import read_cursor
from ingest.state.dataset import GenreDataset
from ingest.state.markers import read_bodies
from ingest.state.plan import Plan
from ingest.state.removed import read_removed
from ingest.state.runs import RunRequest, read_requests
from ingest.state.view import DateView
from ingest.status.catalogue import catalogue_rows
from ingest.status.rows import DateStatus, TmdbStatus


async def survey(lake: Lake, date: dt.date) -> DateStatus:
    runs = await read_requests(lake, date)
    view = DateView(lake, date)
    csv = await view.csv_files(name for r in runs for name in r.csv)
    await view.read()
    plans = await view.genre_plans()
    whole = {d for r in runs if r.whole_genres for d in r.datasets()}
    tmdb = [await _dataset(view, plan, plan.dataset in whole) for plan in plans]
    tmdb += _unplanned(runs, plans)
    # The whole catalogue's datasets keep a chunked plan of their own (``--catalogue``).
    tmdb += await catalogue_rows(view, runs)
    tmdb.sort(key=lambda t: (t.dataset.name, t.dataset.kind is not Kind.MOVIES))
    return DateStatus(lake.url, date, tuple(csv), tuple(tmdb), tuple(runs))


def _unplanned(runs: list[RunRequest], plans: list[Plan]) -> list[TmdbStatus]:
    """A row for each genre's movies or collections a run asked for that has no plan."""
    have = {p.dataset for p in plans}
    asked: dict[GenreDataset, str] = {}
    for r in runs:
        for dataset in r.datasets():
            if isinstance(dataset, GenreDataset):
                asked.setdefault(dataset, r.refresh)
    return [
        TmdbStatus(dataset, refresh, 0, 0, 0, 0, (), 0, None, None, None, None)
        for dataset, refresh in asked.items()
        if dataset not in have
    ]


# TMDB --------------------------------------------------------------------------------


async def _dataset(view: DateView, plan: Plan, whole_genre_asked: bool) -> TmdbStatus:
    lake = view.lake
    planned = plan.target(plan.limit)
    batches = plan.batches(planned)
    done = await view.batches_in_lake(plan, batches)
    bodies = await read_bodies(lake, done)
    written = not_found = oversized = 0
    missing = []
    for batch in batches:
        body = bodies.get(batch.number)
        if body is None:
            missing.append(batch.number)
            continue
        # A marker whose body cannot be read still says the batch is done; count its ids.
        written += len(batch.ids) if body.written is None else body.written
        not_found, oversized = not_found + body.skipped, oversized + body.oversized
    gap, reason = _last_gap(plan)
    removed = await read_removed(lake, plan.date, plan.genre, plan.kind) if plan.kind.primary else None
    cursor = await read_cursor(lake, plan.kind, plan.genre)
    return TmdbStatus(
        dataset=plan.dataset,
        refresh=plan.refresh,
        planned=planned,
        written=written,
        not_found=not_found,
        batches=len(batches),
        missing_batches=tuple(missing),
        removed=removed.count if removed else 0,
        gap=gap,
        gap_reason=reason,
        cursor=cursor.date.isoformat() if cursor else None,
        plan_id=plan.plan_id,
        unfinished=finishing(plan, bool(missing), whole_genre_asked and whole_plan(plan), removed, cursor),
        oversized=oversized,
        full_because=plan.full_because,
    )


def _last_gap(plan: Plan) -> tuple[int | None, str | None]:
    for entry in reversed(plan.history):
        if "gap" in entry:
            gap = entry.get("gap")
            return (gap if isinstance(gap, int) else None), entry.get("gap_reason")
    return None, None
