"""TMDB's genre tables, movie and TV, as ``ingest.settings.genres`` resolves a user's words."""

from __future__ import annotations

import pytest

from ingest.errors import ConfigError
from ingest.settings.genres import GENRES, MEDIA, TV_GENRES, genres_of, resolve_genre
from ingest.standin import TV_GENRE_NAMES
from ingest.standin.bodies import GENRE_NAMES


def test_each_media_has_tmdbs_own_genre_list() -> None:
    assert MEDIA == ("movies", "series")
    assert genres_of("movies") == GENRES and genres_of("series") == TV_GENRES
    # The stand-in serves the same lists, apart (it imitates TMDB; this is the client's table).
    assert {g.id: g.name for g in GENRES} == GENRE_NAMES
    assert {g.id: g.name for g in TV_GENRES} == TV_GENRE_NAMES
    assert [g.slug for g in TV_GENRES] == [
        "action-adventure", "animation", "comedy", "crime", "documentary", "drama", "family",
        "kids", "mystery", "news", "reality", "sci-fi-fantasy", "soap", "talk", "war-politics",
        "western",
    ]  # fmt: skip
    # The movie slugs (file names already in lakes) are as they were.
    assert [g.slug for g in GENRES if " " in g.name] == ["science-fiction", "tv-movie"]


@pytest.mark.parametrize(
    ("value", "media", "expected"),
    [
        ("war", "movies", 10752),
        ("guerra", "movies", 10752),
        ("crime", "movies", 80),
        ("war", "series", 10768),
        ("War", "series", 10768),
        ("war-politics", "series", 10768),
        ("War & Politics", "series", 10768),
        ("10768", "series", 10768),
        (10768, "series", 10768),
        ("crime", "series", 80),
        ("80", "series", 80),
        ("kids", "series", 10762),
    ],
)
def test_a_users_genre_resolves_for_its_media(value: str | int, media: str, expected: int) -> None:
    assert resolve_genre(value, "series" if media == "series" else "movies").id == expected


@pytest.mark.parametrize(
    ("value", "media", "message"),
    [
        ("horror", "series", "'horror' is the movie genre Horror, not one of TMDB's TV genres"),
        ("10752", "series", "'10752' is the movie genre War, not one of TMDB's TV genres"),
        ("westerns!", "series", "unknown TV genre 'westerns!'"),
        ("war-politics", "movies", "unknown genre 'war-politics'"),
        ("kids", "movies", "unknown genre 'kids'"),
    ],
)
def test_a_genre_of_the_other_media_is_refused_naming_the_right_list(
    value: str, media: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        resolve_genre(value, "series" if media == "series" else "movies")
    text = str(refused.value)
    assert text.startswith(message)
    if media == "series":
        assert "war-politics" in text and "sci-fi-fantasy" in text and "horror" not in text.partition(":")[2]
