"""``[tmdb] append``: the sub-resources each details request appends, per media.

``append_to_response`` returns a record's details and its sub-resources in one request,
so a user can add ``credits``, ``release_dates``, ``content_ratings``, ``watch/providers``
and so on at no extra request. The names are TMDB's, which differ between movies and TV
(``release_dates`` is a movie's, ``content_ratings`` a series'), and TMDB takes at most 20.
A plan records the list it was fetched with (``ingest.state.plan``), so a day whose list
differs from the last complete run's is fetched in full, never mixed.
"""

from __future__ import annotations

from dataclasses import dataclass

# TMDB's append_to_response names (its API reference, /movie/{id} and /tv/{id}).
MOVIE_APPENDS = (
    "account_states", "alternative_titles", "changes", "credits", "external_ids", "images",
    "keywords", "lists", "recommendations", "release_dates", "reviews", "similar",
    "translations", "videos", "watch/providers",
)  # fmt: skip
SERIES_APPENDS = (
    "account_states", "aggregate_credits", "alternative_titles", "changes", "content_ratings",
    "credits", "episode_groups", "external_ids", "images", "keywords", "lists",
    "recommendations", "reviews", "screened_theatrically", "similar", "translations", "videos",
    "watch/providers",
)  # fmt: skip
MOST = 20


@dataclass(frozen=True, slots=True)
class Appends:
    """The sub-resources a movie's and a series' details request append."""

    movies: tuple[str, ...] = ("keywords",)
    # A series' IMDb id is in its external_ids: what joins it to series.csv.
    series: tuple[str, ...] = ("keywords", "external_ids")

    def of(self, media: str) -> tuple[str, ...]:
        return self.series if media == "series" else self.movies


KNOWN = {"movies": MOVIE_APPENDS, "series": SERIES_APPENDS}
