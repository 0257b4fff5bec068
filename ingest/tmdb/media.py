"""What differs between TMDB's movies and its TV series, in one table.

TMDB's TV API is its own: ``/discover/tv`` windows on ``first_air_date`` where movies use
``primary_release_date``, ``/tv/{id}`` carries no ``imdb_id`` (it is in the
``external_ids`` sub-resource), ``/tv/changes`` is its own feed, the daily export is
``tv_series_ids_...``, and series have no collections. Everything else (the discover
walk past the 10,000 cap, plans, batches, markers, refresh, the queue, ``status``) is the
same code for both, reading what it needs of a kind here (``source_of``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.lake.keys import Kind


@dataclass(frozen=True, slots=True)
class Source:
    """Where a kind of record comes from in TMDB's API."""

    kind: Kind
    # ``/movie/{}``: one record's details, with ``append_to_response``.
    details: str
    # The discover listing, and the date it is windowed and sorted on (with the field a
    # result carries it in).
    discover: str
    date_param: str
    result_date: str
    # Parameters every discover page sends (TV hides undated series unless asked).
    discover_params: tuple[tuple[str, str], ...]
    # The changes feed; the daily export's kind (``<export>_ids_MM_DD_YYYY.json.gz``:
    # ``ingest.tmdb.exports``), whose adult titles, for series, are in a file of their own.
    changes: str
    export: str
    # Whether its records belong to collections (``belongs_to_collection``).
    has_collections: bool
    # The export of its adult titles when they are apart (TV: ``adult_tv_series_ids``).
    adult_export: str | None = None


MOVIE_SOURCE = Source(
    kind=Kind.MOVIES,
    details="/movie/{}",
    discover="/discover/movie",
    date_param="primary_release_date",
    result_date="release_date",
    discover_params=(),
    changes="/movie/changes",
    export="movie",
    has_collections=True,
)
SERIES_SOURCE = Source(
    kind=Kind.SERIES,
    details="/tv/{}",
    discover="/discover/tv",
    date_param="first_air_date",
    result_date="first_air_date",
    discover_params=(("include_null_first_air_dates", "true"),),
    changes="/tv/changes",
    export="tv_series",
    has_collections=False,
    adult_export="adult_tv_series",
)
COLLECTION_SOURCE = Source(
    kind=Kind.COLLECTIONS,
    details="/collection/{}",
    discover="",
    date_param="",
    result_date="",
    discover_params=(),
    changes="",
    export="collection",
    has_collections=False,
)
_BY_KIND = {s.kind: s for s in (MOVIE_SOURCE, SERIES_SOURCE, COLLECTION_SOURCE)}
# What ``--media`` names: movies, series.
SOURCES = {"movies": MOVIE_SOURCE, "series": SERIES_SOURCE}


def source_of(kind: Kind) -> Source:
    return _BY_KIND[kind]
