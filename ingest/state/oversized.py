"""Records too big for a file: kept out of ``Raw/``, noted under ``_ingest/``.

A JSON Lines file holds at most 10 MB (``ingest.tmdb.files``). A single TMDB answer over
that cap (no real movie comes near it: a detail with keywords weighs 10-20 KB) is not
written, retried or allowed to hold its batch back: the batch is written without it, its
marker lists it under ``oversized``, and a note says which id, how big and why::

    _ingest/YYYY/MM/DD/tmdb/<kind>-<genre>/oversized/<id>.json

This module owns the note's key and body. The answer itself is not kept; a rerun does not
fetch the id again (its batch is done), and a later date's run fetches it like any other.
"""

from __future__ import annotations

import datetime as dt

import orjson

from ingest.lake import Lake
from ingest.state.dataset import Dataset, PlanRef
from ingest.state.versions import CURRENT


def oversized_notes(dataset: Dataset, date: dt.date) -> str:
    """The folder of a dataset's notes for ``date``."""
    return dataset.state(date) + "oversized/"


def oversized_key(plan: PlanRef, item_id: int) -> str:
    return f"{oversized_notes(plan.dataset, plan.date)}{item_id}.json"


async def note_oversized(lake: Lake, plan: PlanRef, batch: int, item_id: int, size: int, cap: int) -> None:
    """Write the note for one record of ``size`` bytes over the ``cap`` of a file."""
    note = {
        "version": CURRENT["oversized"],
        "id": item_id,
        "kind": str(plan.dataset.kind),
        "genre": plan.dataset.name,
        "date": plan.date.isoformat(),
        "plan_id": plan.plan_id,
        "batch": batch,
        "bytes": size,
        "reason": f"one TMDB record of {size} bytes is over the {cap}-byte file cap",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    await lake.write(oversized_key(plan, item_id), orjson.dumps(note, option=orjson.OPT_INDENT_2))
