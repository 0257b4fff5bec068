"""TMDB's wire shapes, as far as the pipeline reads them.

Only the fields the pipeline looks at are typed; records are stored as TMDB sent them, so
nothing here constrains what lands in the lake.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class DiscoverResult(TypedDict):
    id: int
    popularity: NotRequired[float]
    # "" (or absent) when TMDB has no primary release date for the movie.
    release_date: NotRequired[str]


class DiscoverPage(TypedDict):
    page: int
    results: list[DiscoverResult]
    total_pages: int
    total_results: int
