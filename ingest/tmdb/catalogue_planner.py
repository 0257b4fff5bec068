"""Planning the catalogue: the day's export read as a stream, ordered, diffed, frozen.

A full plan is every movie of the day's ID export (adult ones left out unless
``include_adult``), the most popular first, so a day cut short holds the movies people
look up. From the second day on (the catalogue's cursor names a complete snapshot no
older than ``max_incremental_gap_days``, and the refresh is incremental) the plan is the
increment instead: the ids TMDB's changes feed lists since that snapshot's date that are
still in the export, and the ids of the export the snapshot lacks (new); the ids of the
snapshot the export lacks are recorded as removed. No discover request is made either way.
A changes feed that cannot list a day whole (over 500 pages) makes the day a full one.

Memory: the export is decompressed and parsed line by line; what is kept is one 8-byte
integer per movie in an array (popularity and id packed into one sortable key, sorted a
slice at a time), then the ids as a compact array; membership is a bitmap
(``id_order``): no step holds the 1.1M ids as a Python list. The collection plan is
every id of the day's collection export, in its order.
"""

from __future__ import annotations

from array import array
from typing import Any

import orjson
import structlog

from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.settings.config import Settings
from ingest.state.catalogue_plan import CataloguePlan, freeze, load_plan, read_members
from ingest.state.cursor import read_cursor
from ingest.state.dataset import CATALOGUE
from ingest.tmdb.changes import ChangesOverflow, ChangesReader
from ingest.tmdb.client import TmdbClient
from ingest.tmdb.exports import COLLECTIONS, Export, open_export
from ingest.tmdb.id_order import LOW, IdSet, first_of_each, order_key, sort_keys
from ingest.tmdb.media import MOVIE_SOURCE, Source

log = structlog.get_logger(__name__)


async def plan_movies(
    lake: Lake, settings: Settings, client: TmdbClient, source: Source = MOVIE_SOURCE
) -> CataloguePlan:
    """The date's catalogue plan of ``source``'s records (movies, or TV series): the one
    in the lake, or a new one frozen there."""
    date, job = settings.date, settings.job
    found = await load_plan(lake, date, source.kind)
    if found is not None:
        log.info(
            "plan_reused",
            kind=str(source.kind),
            genre=CATALOGUE,
            ids=found.count,
            plan_id=found.plan_id,
            refresh=found.refresh,
        )
        return found
    previous = await _snapshot(lake, settings, source.kind)
    async with open_export(settings.tmdb.exports_url, source.export, date) as export:
        keys, adult, unreadable = await _movie_keys(export, job.include_adult)
        read_from = _source(export)
    if job.include_adult and source.adult_export:
        # TMDB lists adult series in an export of their own.
        async with open_export(settings.tmdb.exports_url, source.adult_export, date) as export:
            more, _, skipped = await _movie_keys(export, True)
        keys, _ = first_of_each(sort_keys(array("Q", (*keys, *more))))
        unreadable += skipped
    log.info(
        "export_read",
        kind=str(source.kind),
        export=read_from["name"],
        ids=len(keys),
        adult_left_out=adult,
        unreadable_lines=unreadable,
        requests=export.requests,
    )
    if previous is not None:
        try:
            return await _incremental(lake, settings, client, previous, keys, read_from, source)
        except* ChangesOverflow as group:
            log.warning("catalogue_fell_back", to="full", why=str(group.exceptions[0]))
    ids = array("l", (k & LOW for k in keys))
    del keys
    mine = CataloguePlan(
        source.kind,
        date,
        len(ids),
        read_from,
        job.include_adult,
        members=len(ids),
        append=_wanted(settings, source),
    )
    return _frozen(await freeze(lake, mine, ids, None), mine)


async def plan_collections(lake: Lake, settings: Settings) -> CataloguePlan:
    found = await load_plan(lake, settings.date, Kind.COLLECTIONS)
    if found is not None:
        log.info("plan_reused", kind="collections", genre=CATALOGUE, ids=found.count, plan_id=found.plan_id)
        return found
    ids: array[int] = array("l")
    async with open_export(settings.tmdb.exports_url, COLLECTIONS, settings.date) as export:
        async for line in export.lines():
            value = _id_of(line)
            if value is not None:
                ids.append(value)
        source = _source(export)
    mine = CataloguePlan(Kind.COLLECTIONS, settings.date, len(ids), source, members=len(ids))
    return _frozen(await freeze(lake, mine, ids, None), mine)


def _frozen(plan: CataloguePlan, mine: CataloguePlan) -> CataloguePlan:
    event = "plan_frozen" if plan.plan_id == mine.plan_id else "plan_adopted"
    log.info(
        event,
        kind=str(plan.kind),
        genre=CATALOGUE,
        plan_id=plan.plan_id,
        ids=plan.count,
        refresh=plan.refresh,
        **(plan.increment or {}),
    )
    return plan


def _wanted(settings: Settings, source: Source) -> tuple[str, ...]:
    return settings.tmdb.append.of(str(source.kind))


def _source(export: Export) -> dict[str, Any]:
    return {"name": export.name, "date": export.date.isoformat(), "fallback": export.fallback}


def _id_of(line: bytes) -> int | None:
    try:
        value = orjson.loads(line)["id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) and 0 < value <= LOW else None


async def _movie_keys(export: Export, include_adult: bool) -> tuple[array[int], int, int]:
    """The export's movies as sorted order keys, an id listed twice kept once at its most
    popular place; how many adult ones were left out, and how many lines could not be read."""
    keys: array[int] = array("Q")
    adult = unreadable = 0
    async for line in export.lines():
        try:
            d = orjson.loads(line)
            movie_id, popularity = d["id"], float(d.get("popularity") or 0.0)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            unreadable += 1
            continue
        if not isinstance(movie_id, int) or not 0 < movie_id <= LOW or popularity != popularity:
            unreadable += 1
        elif d.get("adult") and not include_adult:
            adult += 1
        else:
            keys.append(order_key(popularity, movie_id))
    kept, twice = first_of_each(sort_keys(keys))
    if twice:
        # A batch per listing would fetch and store the movie twice.
        log.warning("export_duplicates", ids=len(twice), first=sorted(twice)[:5])
    return kept, adult, unreadable


async def _snapshot(lake: Lake, settings: Settings, kind: Kind) -> CataloguePlan | None:
    """The last complete snapshot to diff against, or None when the day is a full one."""
    job = settings.job
    if job.refresh != "incremental":
        return None
    cursor = await read_cursor(lake, kind, CATALOGUE)
    if cursor is None or cursor.date >= settings.date:
        return None
    if (settings.date - cursor.date).days > job.max_incremental_gap_days:
        log.info(
            "catalogue_full", why="the last complete snapshot is too old", snapshot=cursor.date.isoformat()
        )
        return None
    previous = await load_plan(lake, cursor.date, kind)
    wanted = settings.tmdb.append.of(str(kind))
    if previous is not None and previous.append != wanted:
        log.info(
            "refresh_fell_back_to_full",
            genre=CATALOGUE,
            kind=str(kind),
            reason="append_changed",
            was=",".join(previous.append),
            now=",".join(wanted),
        )
        return None
    if previous is None or previous.plan_id != cursor.plan_id or previous.include_adult != job.include_adult:
        log.info(
            "catalogue_full", why="the last complete snapshot's plan is gone or was made for other settings"
        )
        return None
    return previous


async def _incremental(
    lake: Lake,
    settings: Settings,
    client: TmdbClient,
    previous: CataloguePlan,
    keys: array[int],
    read_from: dict[str, Any],
    source: Source,
) -> CataloguePlan:
    since = previous.date
    reader = ChangesReader(client, include_adult=settings.job.include_adult, path=source.changes)
    changes = await reader.read(since, settings.date)
    before = await read_members(lake, previous)
    largest = max(max(before, default=0), max((k & LOW for k in keys), default=0))
    was = IdSet.of(before, largest)
    ids: array[int] = array("l")
    changed = new = 0
    for k in keys:
        movie_id = k & LOW
        if movie_id not in was:
            new += 1
            ids.append(movie_id)
        elif movie_id in changes.ids:
            changed += 1
            ids.append(movie_id)
    del was
    members = array("l", (k & LOW for k in keys))
    now = IdSet.of(members, largest)
    removed = sorted(i for i in before if i not in now)
    del before, now
    increment = {
        "since": since.isoformat(),
        "snapshot_plan_id": previous.plan_id,
        "changes_requests": changes.requests,
        "changed": changed,
        "new": new,
        "removed": len(removed),
    }
    mine = CataloguePlan(
        source.kind,
        settings.date,
        len(ids),
        read_from,
        settings.job.include_adult,
        refresh="incremental",
        members=len(members),
        increment=increment,
        append=_wanted(settings, source),
    )
    return _frozen(await freeze(lake, mine, ids, members, removed), mine)
