"""The pipeline's own state in the lake, and its one owner.

Everything under ``_ingest/`` is named (``keys``), written, read, versioned and upgraded
(``versions``) here, and nowhere else: the plans (``plan``, ``catalogue_plan``), the
done-markers (``markers``), the cursors (``cursor``), what a genre lost (``removed``),
records set apart (``oversized``), the run records (``runs``), the CSV manifests
(``manifest``), the collections claim of the queue (``claims``). What a dataset is
(``dataset``: a genre's movies or collections, or the whole catalogue's) and when one is
complete (``completion``) are decided here too, once, for the one-shot crawl, the queue,
the Lambda and ``status`` alike.

``open_lake`` opens a lake with this package's word on where the lake keeps its own
records (``ingest.lake.StoreMeta``): it is how the rest of the code opens one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ingest.lake import Lake, StoreMeta, UploadTuning, connect_lake
from ingest.state import keys

STORE_META = StoreMeta(objects=keys.OBJECTS, store=keys.STORE)


@asynccontextmanager
async def open_lake(url: str, tuning: UploadTuning | None = None) -> AsyncIterator[Lake]:
    """Open the lake at ``url`` for the length of a run."""
    async with connect_lake(url, STORE_META, tuning) as lake:
        yield lake
