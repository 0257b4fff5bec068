"""What ``python -m ingest status`` says about a date's catalogue datasets, from listings.

A catalogue day has some 11,000 batches: reading one marker body per batch (as a genre's
status does) would be 11,000 GETs. Everything status needs is in two listings instead,
which the survey reads once and shares (``ingest.state.listing``): the markers' names carry
each batch's number, size, records written and file count (``ingest.state.markers``
reads them), and the data files' listing confirms each batch's files. The header gives what was planned.

What was asked for comes from the runs' requests (``ingest.state.runs``): a catalogue (or its
collections) a run asked for with no plan yet is ``unplanned``; one whose batches are all
in but whose cursor was not moved to the date (the run was stopped between its last batch
and that step) is ``finishing``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingest.lake.keys import Kind
from ingest.state.catalogue_plan import CataloguePlan
from ingest.state.completion import finishing
from ingest.state.cursor import read_cursor
from ingest.state.dataset import CatalogueDataset
from ingest.state.markers import written_in
from ingest.state.runs import RunRequest
from ingest.state.view import DateView
from ingest.status.rows import TmdbStatus


async def catalogue_rows(view: DateView, runs: Sequence[RunRequest] = ()) -> list[TmdbStatus]:
    asked = _asked(runs)
    rows = []
    for kind in (Kind.MOVIES, Kind.COLLECTIONS, Kind.SERIES):
        plan = await view.catalogue_plan(kind)
        if plan is not None:
            rows.append(await _row(view, plan))
        elif kind in asked:
            rows.append(
                TmdbStatus(CatalogueDataset(kind), asked[kind], 0, 0, 0, 0, (), 0, None, None, None, None)
            )
    return rows


def _asked(runs: Sequence[RunRequest]) -> dict[Kind, str]:
    """The catalogue's datasets the date's runs asked for, with the refresh of the first."""
    asked: dict[Kind, str] = {}
    for r in runs:
        for dataset in r.datasets():
            if isinstance(dataset, CatalogueDataset):
                asked.setdefault(dataset.kind, r.refresh)
    return asked


async def _row(view: DateView, plan: CataloguePlan) -> TmdbStatus:
    done = await view.batches_in_lake(plan, plan.shapes())
    written, not_found = written_in(done)
    cursor = await read_cursor(view.lake, plan.kind, plan.dataset.name)
    missing = tuple(n for n in range(1, plan.batch_count + 1) if n not in done)
    return TmdbStatus(
        dataset=plan.dataset,
        refresh=plan.refresh,
        planned=plan.count,
        written=written,
        not_found=not_found,
        batches=plan.batch_count,
        missing_batches=missing,
        removed=int((plan.increment or {}).get("removed", 0)),
        gap=None,
        gap_reason=None,
        cursor=cursor.date.isoformat() if cursor else None,
        plan_id=plan.plan_id,
        # Every batch in: the run's last step moves the cursor to the date.
        unfinished=finishing(plan, bool(missing), True, None, cursor),
    )
