"""Where the data lives in the lake: the contract's key layout of ``Raw/``, in one place.

``<lake>/<layer>/<origin>/<format>/<spec>/<YYYY>/<MM>/<DD>/<file>``. The pipeline's own
state lives apart, never under ``Raw/``: its keys are ``ingest.state.keys``'.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from pathlib import PurePath

from ingest.errors import InputError


class Kind(enum.StrEnum):
    """The kinds of TMDB record: movies, the collections they belong to, and TV series."""

    MOVIES = "movies"
    COLLECTIONS = "collections"
    SERIES = "series"

    @property
    def folder(self) -> str:
        """The ``<spec>`` folder of the lake layout: ``Movies``, ``Collections``, ``Series``."""
        return self.value.capitalize()

    @property
    def primary(self) -> bool:
        """Whether a genre selects these records itself (movies, series), rather than
        through other records (collections, through their movies)."""
        return self is not Kind.COLLECTIONS


def _date_path(date: dt.date) -> str:
    return f"{date.year:04d}/{date.month:02d}/{date.day:02d}"


# A stem that makes a folder name on S3, on a local disk and in a Hive/Glue table path:
# starts with a letter, digit or underscore, then those and '.' or '-', not ending in '.'.
_SPEC_STEM = re.compile(r"\w[\w.-]*(?<!\.)")


def csv_spec(filename: str) -> str:
    """``movies.csv`` -> ``Movies``; ``x.csv`` -> ``X``.

    Raises ``InputError`` for a name that makes no folder (``..csv``, ``.csv``, ``a b.csv``).
    """
    name = PurePath(filename).name
    stem = PurePath(name).stem
    if not _SPEC_STEM.fullmatch(stem) or not re.fullmatch(r"[\w.-]+", name):
        raise InputError(
            f"CSV file name {name!r} makes no lake folder: rename the file to start with a "
            "letter or digit and use only letters, digits, '.', '-' and '_' (e.g. movies.csv)"
        )
    return stem[:1].upper() + stem[1:]


def csv_key(filename: str, date: dt.date) -> str:
    name = PurePath(filename).name
    return f"Raw/Local/CSV/{csv_spec(name)}/{_date_path(date)}/{name}"


def tmdb_prefix(kind: Kind, date: dt.date) -> str:
    return f"Raw/TMDB/JSON/{kind.folder}/{_date_path(date)}/"


def tmdb_key(kind: Kind, date: dt.date, name: str, number: int, digits: int = 5) -> str:
    """File ``number`` (from 1) of a dataset's records: ``<name>-<NNNNN>.json``, or on
    ``digits`` digits (the whole catalogue's six: ``ingest.state.dataset``)."""
    return f"{tmdb_prefix(kind, date)}{name}-{number:0{digits}d}.json"
