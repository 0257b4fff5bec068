"""One date of the lake as ``status`` sees it: every read it makes, through the state package.

``DateView`` lists the date's TMDB state and data once (``ingest.state.listing``) and
answers from that one snapshot: the genres' plans, the catalogue's headers, which batches
are in the lake; ``csv_files`` says, per CSV file of the date, what its manifest recorded
and whether the object under ``Raw/`` still matches it. So ``status`` never reads a key
of its own, and what it reports is computed from the state's one reading of each format.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingest.lake import Lake
from ingest.lake.keys import Kind, csv_key, tmdb_prefix
from ingest.state import keys
from ingest.state.catalogue_plan import CataloguePlan, header_key, load_plan
from ingest.state.dataset import PlanRef
from ingest.state.listing import Listing
from ingest.state.manifest import ManifestSummary, manifests
from ingest.state.markers import batches_in_lake
from ingest.state.plan import Batch, Plan

_CSV_ROOT = "Raw/Local/CSV/"


@dataclass(frozen=True, slots=True)
class CsvFileState:
    """A CSV file of the date: what its manifest says, and whether the lake agrees."""

    file: str
    key: str
    # "ok", "missing" (manifest, no object), "mismatch" (size or checksum differ),
    # "no_manifest" (object, no manifest: the stage was stopped before it finished),
    # "unstarted" (a run asked for it; nothing of it is in the lake).
    state: str
    bytes: int | None
    rows: int | None
    malformed_rows: int | None

    @property
    def complete(self) -> bool:
        return self.state == "ok"


class DateView:
    """The lake's state and data for one date, each prefix listed once."""

    def __init__(self, lake: Lake, date: dt.date) -> None:
        self.lake = lake
        self.date = date
        self._listing = Listing(lake)

    async def read(self) -> None:
        """List the date's TMDB state and every kind's data folder, at once."""
        await self._listing.read_all([keys.tmdb_state(self.date), *(tmdb_prefix(k, self.date) for k in Kind)])

    async def genre_plans(self) -> list[Plan]:
        plans = []
        for key in await self._listing.keys(keys.tmdb_state(self.date)):
            if key.endswith("/plan.json"):
                data = await self.lake.read(key)
                if data is not None:
                    plans.append(Plan.from_json(data, key))
        return plans

    async def catalogue_plan(self, kind: Kind) -> CataloguePlan | None:
        held = await self._listing.keys(header_key(self.date, kind))
        return await load_plan(self.lake, self.date, kind) if held else None

    async def batches_in_lake(self, plan: PlanRef, batches: Sequence[Batch]) -> dict[int, str]:
        return await batches_in_lake(self.lake, plan, batches, self._listing)

    async def csv_files(self, asked: Iterable[str]) -> list[CsvFileState]:
        """Every CSV file of the date (by its manifest, or its object alone), and each file
        ``asked`` (by a run) of which nothing is in the lake."""
        out: dict[str, CsvFileState] = {}
        for manifest in await manifests(self.lake, self.date):
            state = await self._csv_file(manifest)
            out[state.key] = state
        # An object without a manifest: uploaded, then stopped before the manifest was written.
        for key in await self.lake.list(_CSV_ROOT):
            name = key.rsplit("/", 1)[-1]
            if key not in out and csv_key(name, self.date) == key:
                info = await self.lake.stat(key)
                out[key] = CsvFileState(name, key, "no_manifest", info.size if info else None, None, None)
        found = sorted(out.values(), key=lambda c: c.file)
        wanted = {csv_key(name, self.date): name for name in asked}
        return found + [
            CsvFileState(name, key, "unstarted", None, None, None)
            for key, name in wanted.items()
            if key not in out
        ]

    async def _csv_file(self, manifest: ManifestSummary) -> CsvFileState:
        key = manifest.key or csv_key(manifest.file, self.date)
        info = await self.lake.stat(key)
        if info is None:
            state = "missing"
        elif manifest.bytes is None or not info.holds(manifest.bytes, manifest.sha256, manifest.crc64nvme):
            state = "mismatch"
        else:
            state = "ok"
        return CsvFileState(manifest.file, key, state, manifest.bytes, manifest.rows, manifest.malformed_rows)
