"""What ``python -m ingest status`` says about a date's catalogue datasets, from listings.

A catalogue day has some 11,000 batches: reading one marker body per batch (as a genre's
status does) would be 11,000 GETs. Everything status needs is in two listings instead:
the markers' names carry each batch's number, size, records written (so the ids TMDB
answered 404 for are the difference) and file count, and the data files' listing confirms
each batch's files (``ingest.tmdb.plan.batches_in_lake``). The header gives what was planned.
"""

from __future__ import annotations

import datetime as dt
import re

from ingest.lake import Lake
from ingest.lake.keys import CATALOGUE, Kind
from ingest.status.rows import TmdbStatus
from ingest.tmdb.catalogue_plan import load_plan
from ingest.tmdb.cursor import read_cursor
from ingest.tmdb.plan import batches_in_lake

_COUNTS = re.compile(r"-n(\d+)-w(\d+)-")


async def catalogue_rows(lake: Lake, date: dt.date) -> list[TmdbStatus]:
    rows = []
    for kind in (Kind.MOVIES, Kind.COLLECTIONS):
        plan = await load_plan(lake, date, kind)
        if plan is None:
            continue
        done = await batches_in_lake(lake, plan.facade(), plan.shapes())
        written = not_found = 0
        for key in done.values():
            m = _COUNTS.search(key)
            if m:
                written += int(m.group(2))
                not_found += int(m.group(1)) - int(m.group(2))
        cursor = await read_cursor(lake, kind, CATALOGUE)
        rows.append(
            TmdbStatus(
                genre=CATALOGUE,
                kind=kind,
                refresh=plan.refresh,
                planned=plan.count,
                written=written,
                not_found=not_found,
                batches=plan.batch_count,
                missing_batches=tuple(n for n in range(1, plan.batch_count + 1) if n not in done),
                removed=int((plan.increment or {}).get("removed", 0)),
                gap=None,
                gap_reason=None,
                cursor=cursor.date.isoformat() if cursor else None,
                plan_id=plan.plan_id,
            )
        )
    return rows
