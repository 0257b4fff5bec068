"""The TMDB stand-in: a synthetic catalogue served over HTTP with TMDB's shapes and faults.

Shipped with the package (not only the tests) so that ``dev.py run`` can demonstrate
stage 2 offline, and so that tests, the benchmark and the deploy checks all start it the
same way, through this face:

- ``Catalog.synthetic(sizes, seed=...)``, ``catalog.at_day(n)``: the catalogue and its clock;
- ``TvCatalog.synthetic(tv_sizes, seed=..., movie_ids=catalog.movies)``: the series, some
  with a movie's id (TMDB's TV genres: ``TV_GENRE_NAMES``);
- ``Standin(catalog, tv=tv_catalog, **knobs)``, ``async with standin.serve() as url``: serve
  it in this event loop (``.url``, ``.counters``, ``.day``, ``.tv``);
- ``python -m ingest.standin ...``: serve it as a command that prints one ready line;
- ``standin_process(*args)``: run that command and wait for the line (``.url``, ``.token``).

The app and the catalogue need aiohttp and orjson (core dependencies); the process helper
and the constants (credentials, page sizes) need only the standard library, so ``dev.py``
and the benchmark can import them from any Python: the rest is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ingest.standin.constants import DAY0, PAGE_SIZE, STANDIN_API_KEY, STANDIN_TOKEN
from ingest.standin.process import StandinFailed, StandinProcess, free_port, standin_process, stop_process

if TYPE_CHECKING:
    from ingest.standin.app import Standin
    from ingest.standin.catalog import Catalog
    from ingest.standin.counters import Counters
    from ingest.standin.records import DailyChange
    from ingest.standin.tv_bodies import TV_GENRE_NAMES
    from ingest.standin.tv_catalog import TvCatalog
    from ingest.standin.universe import Universe

_LAZY = {
    "Standin": "ingest.standin.app",
    "Catalog": "ingest.standin.catalog",
    "DailyChange": "ingest.standin.records",
    "Counters": "ingest.standin.counters",
    "TvCatalog": "ingest.standin.tv_catalog",
    "TV_GENRE_NAMES": "ingest.standin.tv_bodies",
    "Universe": "ingest.standin.universe",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DAY0",
    "PAGE_SIZE",
    "STANDIN_API_KEY",
    "STANDIN_TOKEN",
    "TV_GENRE_NAMES",
    "Catalog",
    "Counters",
    "DailyChange",
    "Standin",
    "StandinFailed",
    "StandinProcess",
    "TvCatalog",
    "Universe",
    "free_port",
    "standin_process",
    "stop_process",
]
