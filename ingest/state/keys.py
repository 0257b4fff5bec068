"""Every key of the pipeline's own state, in one short file: nothing else spells one.

The data a run lands lives under ``Raw/`` (``ingest.lake.keys``); what the pipeline
knows about it lives here, under ``_ingest/``, never beside the data::

    _ingest/YYYY/MM/DD/csv/<file>.manifest.json          a CSV file's manifest (manifest)
    _ingest/YYYY/MM/DD/runs/<started>-<run_id>.json      what a run asked for (runs)
    _ingest/YYYY/MM/DD/tmdb/<kind>-<dataset>/            one dataset's state (dataset):
        plan.json                                        a genre's plan (plan)
        catalogue.json                                   the catalogue's plan header (catalogue_plan)
        ids-<plan>/NNNNN.json, members-<plan>/NNNNN.json its chunks
        removed-<plan>.json                              the ids its increment lost
        done/<batch>-n<ids>-w<written>-f<files>-<plan>.done   done-markers (markers)
        hundreds-<plan>/HHH                              the catalogue's landed hundreds (markers)
        removed.json                                     what a genre lost (removed)
        oversized/<id>.json                              a record over a file's cap (oversized)
        enqueued-<plan>                                  who sends the collections (claims)
    _ingest/tmdb/cursors/<kind>-<dataset>.json           a dataset's last complete date (cursor)
    _ingest/store/conditional-writes.json, probe-<id>    what the S3 store honours (ingest.lake)
    _ingest/objects/<key>.sha256                         a directory lake's checksums (ingest.lake)

(the names in brackets are the modules of ``ingest.state`` that own each format).
"""

from __future__ import annotations

import datetime as dt

ROOT = "_ingest"
# The lake's own records of its objects and store (``ingest.lake.StoreMeta``).
OBJECTS = f"{ROOT}/objects/"
STORE = f"{ROOT}/store/"


def date_path(date: dt.date) -> str:
    return f"{date.year:04d}/{date.month:02d}/{date.day:02d}"


def date_key(date: dt.date, *parts: str) -> str:
    """A key of one processing date's state."""
    return "/".join((ROOT, date_path(date), *parts))


def csv_manifests(date: dt.date) -> str:
    return date_key(date, "csv") + "/"


def csv_manifest(date: dt.date, filename: str) -> str:
    return f"{csv_manifests(date)}{filename}.manifest.json"


def csv_manifest_file(key: str) -> str | None:
    """The file name a manifest key is for; None for a key that is no manifest."""
    name = key.rsplit("/", 1)[-1]
    return name.removesuffix(".manifest.json") if name.endswith(".manifest.json") else None


def runs(date: dt.date) -> str:
    return date_key(date, "runs") + "/"


def run(date: dt.date, stamp: str, run_id: str) -> str:
    return f"{runs(date)}{stamp}-{run_id}.json"


def tmdb_state(date: dt.date) -> str:
    """Every TMDB dataset's state of one date."""
    return date_key(date, "tmdb") + "/"


def dataset(date: dt.date, kind: str, name: str) -> str:
    """The folder of one dataset's state for one date."""
    return f"{tmdb_state(date)}{kind}-{name}/"


def cursor(kind: str, name: str) -> str:
    return f"{ROOT}/tmdb/cursors/{kind}-{name}.json"
