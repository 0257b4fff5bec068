"""When a dataset's date is complete, and the step that says so: one rule for the one-shot
crawl, ``--enqueue``, the queue worker, the Lambda and ``status``.

A dataset's run for a date is *whole* when it covers the whole dataset: a catalogue plan
always, a genre's movie plan when it is the whole genre (``Plan.complete``) and the run
asked for all of it (no ``--limit`` cut), a genre's collections when they were drawn from
such a movie plan. When every batch of a whole run is in the lake, the *completion step*
is taken once (by whoever lands the last batch, or finds none left): a genre's movies
record what the genre lost (``removed.json``), and the dataset's cursor moves to the date
(``ingest.state.cursor``), which is where the next incremental day starts. A dataset is
*complete* for ``status`` when every batch is in and, for a whole run, that step was taken.
"""

from __future__ import annotations

from ingest.lake import Lake
from ingest.state.cursor import Cursor, move_cursor
from ingest.state.dataset import PlanRef
from ingest.state.markers import missing_batches
from ingest.state.plan import Plan
from ingest.state.removed import Removed, record_removed


def whole_run(movies: Plan, target: int) -> bool:
    """Whether a run of ``movies``' first ``target`` ids (or of collections drawn from
    them) is a run of the whole genre."""
    return movies.complete and target >= len(movies.ids)


async def finish(lake: Lake, plan: PlanRef, refresh: str) -> int:
    """Take the completion step for ``plan`` (every batch of it is in the lake); return how
    many ids the dataset lost (a genre's movies; 0 otherwise). ``refresh`` is the mode of
    the run the step closes (a genre's collections take their movies')."""
    removed = 0
    if isinstance(plan, Plan) and plan.kind.primary:
        removed = (await record_removed(lake, plan)).count
    await move_cursor(lake, plan.dataset.kind, plan.dataset.name, plan.date, plan.plan_id, refresh)
    return removed


async def finish_if_whole(lake: Lake, movies: Plan, plan: Plan, target: int) -> int | None:
    """Take the step for a genre's ``plan`` (its movies, or collections drawn from
    ``movies``) if the run was whole and nothing of it is missing; None when not."""
    if not whole_run(movies, target) or plan.source_plan_id not in (None, movies.plan_id):
        return None
    if await missing_batches(lake, plan, len(plan.ids)):
        return None
    return await finish(lake, plan, movies.refresh)


def step_taken(plan: PlanRef, removed: Removed | None, cursor: Cursor | None) -> bool:
    """Whether the completion step of ``plan``'s date was taken: the cursor is at (or past)
    the date and, for a genre's movies, ``removed.json`` is there."""
    recorded = removed is not None or not (isinstance(plan, Plan) and plan.kind.primary)
    return recorded and cursor is not None and cursor.date >= plan.date


def whole_plan(plan: Plan) -> bool:
    """Whether a genre's plan is of a whole genre (movies), or drawn from one (collections)."""
    return plan.complete if plan.kind.primary else plan.source_plan_id is not None


def finishing(
    plan: PlanRef, missing: bool, whole: bool, removed: Removed | None, cursor: Cursor | None
) -> bool:
    """Every batch is in, the run was whole, and the step was not taken: the run stopped
    between its last batch and the step (``status``'s ``finishing``)."""
    return whole and not missing and not step_taken(plan, removed, cursor)
