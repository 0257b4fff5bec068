"""What the lake holds for one processing date, read from the lake alone.

No TMDB credentials and no run settings beyond the lake and the date: the CSV manifests
and the TMDB plans say what was planned, the objects under ``Raw/`` and the batch
markers say what landed. The lake's state is read only through ``ingest.state`` (plans,
markers, manifests, cursors, ``removed.json``, run records), so its layout has one owner,
and whether a dataset is complete is ``ingest.state.completion``'s rule. The date's TMDB
state and data files are listed once (``ingest.lake.listing``), at once, and shared by
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
from ingest.lake.keys import Kind, csv_key, tmdb_prefix
from ingest.lake.listing import Listing
from ingest.state import keys
from ingest.state.completion import finishing, whole_plan
from ingest.state.cursor import read_cursor
from ingest.state.dataset import GenreDataset
from ingest.state.manifest import ManifestSummary, manifests
from ingest.state.markers import batches_in_lake, read_bodies
from ingest.state.plan import Plan
from ingest.state.removed import read_removed
from ingest.state.runs import RunRequest, read_requests
from ingest.status.catalogue import catalogue_rows
from ingest.status.rows import CsvStatus, DateStatus, TmdbStatus

_CSV_ROOT = "Raw/Local/CSV/"


async def survey(lake: Lake, date: dt.date) -> DateStatus:
    runs = await read_requests(lake, date)
    csv = await _csv_files(lake, date)
    csv += _unstarted_csv(runs, csv, date)
    listing = Listing(lake)
    await listing.read_all([keys.tmdb_state(date), *(tmdb_prefix(kind, date) for kind in Kind)])
    plans = await _plans(lake, listing, date)
    whole = {d for r in runs if r.whole_genres for d in r.datasets()}
    tmdb = [await _dataset(lake, listing, plan, plan.dataset in whole) for plan in plans]
    tmdb += _unplanned(runs, plans)
    # The whole catalogue's datasets keep a chunked plan of their own (``--catalogue``).
    tmdb += await catalogue_rows(lake, date, runs, listing)
    tmdb.sort(key=lambda t: (t.dataset.name, t.dataset.kind is not Kind.MOVIES))
    return DateStatus(lake.url, date, tuple(csv), tuple(tmdb), tuple(runs))


def _unstarted_csv(runs: list[RunRequest], found: list[CsvStatus], date: dt.date) -> list[CsvStatus]:
    """A row for each CSV file a run asked for of which nothing is in the lake."""
    have = {c.key for c in found}
    asked = {csv_key(name, date): name for r in runs for name in r.csv}
    return [
        CsvStatus(name, key, "unstarted", None, None, None) for key, name in asked.items() if key not in have
    ]


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


# CSV ---------------------------------------------------------------------------------


async def _csv_files(lake: Lake, date: dt.date) -> list[CsvStatus]:
    out: dict[str, CsvStatus] = {}
    for manifest in await manifests(lake, date):
        status = await _csv_file(lake, date, manifest)
        out[status.key] = status
    # An object without a manifest: uploaded, then stopped before the manifest was written.
    for key in await lake.list(_CSV_ROOT):
        name = key.rsplit("/", 1)[-1]
        if key not in out and csv_key(name, date) == key:
            info = await lake.stat(key)
            out[key] = CsvStatus(name, key, "no_manifest", info.size if info else None, None, None)
    return sorted(out.values(), key=lambda c: c.file)


async def _csv_file(lake: Lake, date: dt.date, manifest: ManifestSummary) -> CsvStatus:
    key = manifest.key or csv_key(manifest.file, date)
    info = await lake.stat(key)
    if info is None:
        state = "missing"
    elif manifest.bytes is None or not info.holds(manifest.bytes, manifest.sha256, manifest.crc64nvme):
        state = "mismatch"
    else:
        state = "ok"
    return CsvStatus(manifest.file, key, state, manifest.bytes, manifest.rows, manifest.malformed_rows)


# TMDB --------------------------------------------------------------------------------


async def _plans(lake: Lake, listing: Listing, date: dt.date) -> list[Plan]:
    plans = []
    for key in await listing.keys(keys.tmdb_state(date)):
        if key.endswith("/plan.json"):
            data = await lake.read(key)
            if data is not None:
                plans.append(Plan.from_json(data, key))
    return plans


async def _dataset(lake: Lake, listing: Listing, plan: Plan, whole_genre_asked: bool) -> TmdbStatus:
    planned = plan.target(plan.limit)
    batches = plan.batches(planned)
    done = await batches_in_lake(lake, plan, batches, listing)
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
