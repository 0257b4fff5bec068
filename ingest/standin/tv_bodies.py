"""What the stand-in answers about a TV series: TMDB's TV bodies, derived per id and seed.

As for movies (``ingest.standin.bodies``), a series' stable fields come from its id and
the catalogue's seed, its volatile ones (overview, votes, the last episode) also from its
``revision``. The sub-resources a client may append (``append_to_response``) are in
``SUB_RESOURCES``, each the body of its own route (``/tv/{id}/keywords`` and so on)
without the ``id``, as TMDB appends them. The shapes are those of TMDB's OpenAPI
description (``tests/tmdb_openapi``), with the differences of the real API noted where
the tests loosen the description.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from typing import Any

from ingest.standin import bodies
from ingest.standin.bodies import overview, path_token, rng_for
from ingest.standin.records import FakeSeries

# TMDB's /genre/tv/list (en-US): not the movie genres. Crime is 80 in both, but TV has no
# War: it has War & Politics (10768).
TV_GENRE_NAMES = {
    10759: "Action & Adventure",
    16: "Animation",
    35: "Comedy",
    80: "Crime",
    99: "Documentary",
    18: "Drama",
    10751: "Family",
    10762: "Kids",
    9648: "Mystery",
    10763: "News",
    10764: "Reality",
    10765: "Sci-Fi & Fantasy",
    10766: "Soap",
    10767: "Talk",
    10768: "War & Politics",
    37: "Western",
}
WAR_POLITICS = 10768
# The most items ``append_to_response`` may name (400 status_code 27 beyond).
MAX_APPEND = 20

# Salts of the TV streams (``rng_for``'s kind), apart from the movie ones (1 to 7).
_SUMMARY, _DETAIL, _VOLATILE, _KEYWORDS, _EXTERNAL, _PEOPLE, _RATINGS = range(11, 18)
_TV_KEYWORDS = (
    "detective", "police", "miniseries", "based on novel or book", "serial killer",
    "mafia", "crime family", "courtroom", "anthology", "period drama", "heist",
    "corruption", "drug cartel", "investigation", "true crime",
    # The War & Politics ones, drawn for the series of that genre.
    "politics", "political intrigue", "election", "world war ii", "cold war", "espionage",
    "military", "white house", "parliament", "resistance", "vietnam war",
)  # fmt: skip
_POLITICS_FROM = _TV_KEYWORDS.index("politics")
_NETWORKS = ((49, "HBO"), (213, "Netflix"), (4, "BBC One"), (2, "ABC"), (6, "NBC"), (1024, "Prime Video"))
_TYPES = ("Scripted", "Scripted", "Scripted", "Miniseries", "Documentary", "Reality")
_RATED = (("US", ("TV-14", "TV-MA", "TV-PG")), ("BR", ("14", "16", "18")), ("DE", ("12", "16", "18")))
_FIRST = ("José", "María", "João", "Zoë", "François", "Kenji", "Chloé", "Raúl", "Björk", "Ingrid")
_LAST = ("da Silva", "Müller", "Núñez", "O'Brien", "Søren", "Kowalski", "Dupré", "Tanaka")
_CHARACTERS = ("Inspector", "Senator", "Captain", "Detective", "Minister", "Sergeant", "Agent")
_WATCH_COUNTRIES = ("BR", "DE", "FR", "GB", "JP", "PT", "US")
_WAYS = ("flatrate", "buy", "rent", "free", "ads")
_PROVIDERS = (
    (8, "Netflix"),
    (337, "Disney Plus"),
    (119, "Amazon Prime Video"),
    (1899, "Max"),
    (2, "Apple TV"),
)
_DEPARTMENTS = (("Directing", "Director"), ("Writing", "Writer"), ("Production", "Executive Producer"))


def summary(seed: int, series: FakeSeries) -> dict[str, Any]:
    """A series as ``/discover/tv``'s ``results`` list it."""
    stable = rng_for(seed, _SUMMARY, series.id)
    volatile = rng_for(seed, _VOLATILE, series.id, series.revision)
    lang = stable.choice(bodies._LANGS)
    country = stable.choice(bodies._COUNTRIES)
    return {
        "adult": series.adult,
        "backdrop_path": f"/{path_token(stable)}.jpg",
        "first_air_date": series.first_air_date,
        "genre_ids": list(series.genre_ids),
        "id": series.id,
        "name": series.name,
        "origin_country": [country[0]],
        "original_language": lang[0],
        "original_name": series.name,
        "overview": overview(volatile),
        "popularity": series.popularity,
        "poster_path": f"/{path_token(stable)}.jpg",
        "vote_average": round(volatile.uniform(3, 9), 3),
        "vote_count": volatile.randint(0, 20_000),
    }


def detail(seed: int, series: FakeSeries, append: Collection[str] = ()) -> dict[str, Any]:
    """``/tv/{id}``, with each sub-resource ``append`` names that the stand-in serves (TMDB
    ignores the names it does not know)."""
    head = summary(seed, series)
    rng = rng_for(seed, _DETAIL, series.id)
    volatile = rng_for(seed, _VOLATILE + 100, series.id, series.revision)
    lang = next(x for x in bodies._LANGS if x[0] == head["original_language"])
    country = next(x for x in bodies._COUNTRIES if x[0] == head["origin_country"][0])
    dated = bool(series.first_air_date)
    seasons = rng.randint(1, 6) + series.revision // 5 if dated else 0
    per_season = [rng.randint(4, 13) for _ in range(seasons)]
    first_year = int(series.first_air_date[:4]) if dated else 0
    ended = dated and rng.random() < 0.5
    last_air = f"{first_year + seasons - 1:04d}{series.first_air_date[4:]}" if dated else ""
    network = rng.choice(_NETWORKS)
    body: dict[str, Any] = {
        "adult": series.adult,
        "backdrop_path": head["backdrop_path"],
        "created_by": [_person(rng, "created_by") for _ in range(rng.randint(0, 2))],
        "episode_run_time": rng.choice(([], [rng.randint(22, 65)])),
        "first_air_date": series.first_air_date,
        "genres": [{"id": g, "name": TV_GENRE_NAMES.get(g, "Drama")} for g in series.genre_ids],
        "homepage": rng.choice(("", f"https://example.org/series/{series.id}")),
        "id": series.id,
        "in_production": dated and not ended,
        "languages": [lang[0]],
        "last_air_date": last_air,
        "last_episode_to_air": _episode(volatile, series, last_air, seasons, per_season[-1])
        if dated
        else None,
        "name": series.name,
        "next_episode_to_air": None,
        "networks": [
            {
                "id": network[0],
                "logo_path": f"/{path_token(rng)}.png",
                "name": network[1],
                "origin_country": "US",
            }
        ],
        "number_of_episodes": sum(per_season),
        "number_of_seasons": seasons,
        "origin_country": head["origin_country"],
        "original_language": lang[0],
        "original_name": series.name,
        "overview": head["overview"],
        "popularity": series.popularity,
        "poster_path": head["poster_path"],
        "production_companies": [
            {
                "id": rng.randint(1, 200_000),
                "logo_path": rng.choice((None, "/logo.png")),
                "name": f"{rng.choice(bodies._WORDS)} Televisão",
                "origin_country": country[0],
            }
            for _ in range(rng.randint(0, 2))
        ],
        "production_countries": [{"iso_3166_1": country[0], "name": country[1]}],
        "seasons": [
            {
                "air_date": f"{first_year + n:04d}{series.first_air_date[4:]}",
                "episode_count": count,
                "id": series.id * 100 + n + 1,
                "name": f"Season {n + 1}",
                "overview": "",
                "poster_path": f"/{path_token(rng)}.jpg",
                "season_number": n + 1,
                "vote_average": round(rng.uniform(5, 9), 1),
            }
            for n, count in enumerate(per_season)
        ],
        "spoken_languages": [{"english_name": lang[1], "iso_639_1": lang[0], "name": lang[2]}],
        "status": ("Ended" if ended else "Returning Series") if dated else "In Production",
        "tagline": rng.choice(("", f"A história de {series.name}.")),
        "type": rng.choice(_TYPES),
        "vote_average": head["vote_average"],
        "vote_count": head["vote_count"],
    }
    for name in dict.fromkeys(append):
        if name in SUB_RESOURCES:
            body[name] = SUB_RESOURCES[name](seed, series)
    return body


def keywords(seed: int, series: FakeSeries) -> dict[str, Any]:
    """``/tv/{id}/keywords`` without its id: ``{"results": [...]}`` (movies say ``keywords``).
    War & Politics series draw from the political and war words too."""
    rng = rng_for(seed, _KEYWORDS, series.id)
    pool = _TV_KEYWORDS if WAR_POLITICS in series.genre_ids else _TV_KEYWORDS[:_POLITICS_FROM]
    words = rng.sample(pool, rng.randint(0, 5))
    return {"results": [{"id": _keyword_id(w), "name": w} for w in words]}


def external_ids(seed: int, series: FakeSeries) -> dict[str, Any]:
    """``/tv/{id}/external_ids`` without its id. TV details carry no ``imdb_id``: this is
    where it is (null when TMDB has none, as for the ids of the other sites)."""
    rng = rng_for(seed, _EXTERNAL, series.id)
    handle = series.name.lower().replace(" ", "")
    return {
        "imdb_id": None if series.imdb is None else f"tt{series.imdb:07d}",
        "freebase_mid": None,
        "freebase_id": None,
        "tvdb_id": rng.choice((None, rng.randint(70_000, 450_000))),
        "tvrage_id": None,
        "wikidata_id": rng.choice((None, f"Q{rng.randint(1_000, 130_000_000)}")),
        "facebook_id": rng.choice((None, handle)),
        "instagram_id": rng.choice((None, handle)),
        "twitter_id": None,
    }


def credits(seed: int, series: FakeSeries) -> dict[str, Any]:
    """``/tv/{id}/credits`` without its id: the cast and crew of the latest season."""
    rng = rng_for(seed, _PEOPLE, series.id)
    cast = [
        _person(rng, "cast") | {"character": rng.choice(_CHARACTERS), "order": n}
        for n in range(rng.randint(0, 6))
    ]
    crew = []
    for _ in range(rng.randint(0, 4)):
        department, job = rng.choice(_DEPARTMENTS)
        crew.append(_person(rng, department) | {"department": department, "job": job})
    return {"cast": cast, "crew": crew}


def aggregate_credits(seed: int, series: FakeSeries) -> dict[str, Any]:
    """``/tv/{id}/aggregate_credits`` without its id: everyone of every season, their
    roles and jobs with episode counts."""
    latest = credits(seed, series)
    rng = rng_for(seed, _PEOPLE + 100, series.id)
    cast = []
    for person in latest["cast"]:
        episodes = rng.randint(1, 60)
        role = {
            "credit_id": person.pop("credit_id"),
            "character": person.pop("character"),
            "episode_count": episodes,
        }
        order = person.pop("order")
        cast.append(person | {"roles": [role], "total_episode_count": episodes, "order": order})
    crew = []
    for person in latest["crew"]:
        episodes = rng.randint(1, 60)
        job = {"credit_id": person.pop("credit_id"), "job": person.pop("job"), "episode_count": episodes}
        crew.append(person | {"jobs": [job], "total_episode_count": episodes})
    return {"cast": cast, "crew": crew}


def content_ratings(seed: int, series: FakeSeries) -> dict[str, Any]:
    """``/tv/{id}/content_ratings`` without its id: a rating per country."""
    rng = rng_for(seed, _RATINGS, series.id)
    countries = rng.sample(_RATED, rng.randint(0, len(_RATED)))
    return {"results": [{"descriptors": [], "iso_3166_1": c, "rating": rng.choice(r)} for c, r in countries]}


def watch_providers(seed: int, series: FakeSeries) -> dict[str, Any]:
    """``/tv/{id}/watch/providers`` without its id: by country, where to watch it and how
    (``flatrate``, ``buy``, ``rent``, ``free``, ``ads``: only the ways it has there)."""
    rng = rng_for(seed, _RATINGS + 100, series.id)
    results: dict[str, Any] = {}
    for country in sorted(rng.sample(_WATCH_COUNTRIES, rng.randint(0, len(_WATCH_COUNTRIES)))):
        entry: dict[str, Any] = {"link": f"https://www.themoviedb.org/tv/{series.id}/watch?locale={country}"}
        for way in rng.sample(_WAYS, rng.randint(1, 2)):
            entry[way] = [
                {
                    "logo_path": f"/{path_token(rng)}.jpg",
                    "provider_id": provider_id,
                    "provider_name": name,
                    "display_priority": rng.randint(0, 40),
                }
                for provider_id, name in rng.sample(_PROVIDERS, rng.randint(1, 2))
            ]
        results[country] = entry
    return {"results": results}


# The sub-resources the stand-in serves, as their own routes and appended to the details
# (under these names: ``"watch/providers"`` is one key). TMDB's TV namespace has more
# (images, videos, translations, ...): the stand-in ignores those in
# ``append_to_response`` and answers 404 to their routes.
SUB_RESOURCES: Mapping[str, Callable[[int, FakeSeries], dict[str, Any]]] = {
    "keywords": keywords,
    "external_ids": external_ids,
    "credits": credits,
    "aggregate_credits": aggregate_credits,
    "content_ratings": content_ratings,
    "watch/providers": watch_providers,
}


def _keyword_id(word: str) -> int:
    # TMDB's keywords are one list for movies and TV: a word the movie side has keeps its id.
    if word in bodies._KEYWORDS:
        return 1000 + bodies._KEYWORDS.index(word)
    return 2000 + _TV_KEYWORDS.index(word)


def _person(rng: random.Random, department: str) -> dict[str, Any]:
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
    person_id = rng.randint(1, 5_000_000)
    credit_id = f"{rng.getrandbits(96):024x}"
    profile = rng.choice((None, f"/{path_token(rng)}.jpg"))
    if department == "created_by":
        return {
            "id": person_id,
            "credit_id": credit_id,
            "name": name,
            "gender": rng.randint(0, 2),
            "profile_path": profile,
        }
    return {
        "adult": False,
        "gender": rng.randint(0, 2),
        "id": person_id,
        "known_for_department": "Acting" if department == "cast" else department,
        "name": name,
        "original_name": name,
        "popularity": round(rng.uniform(0.6, 40), 3),
        "profile_path": profile,
        "credit_id": credit_id,
    }


def _episode(rng: random.Random, series: FakeSeries, aired: str, season: int, number: int) -> dict[str, Any]:
    return {
        "id": series.id * 10_000 + season * 100 + number,
        "name": f"Episódio {number}",
        "overview": overview(rng),
        "vote_average": round(rng.uniform(5, 9), 3),
        "vote_count": rng.randint(0, 400),
        "air_date": aired,
        "episode_number": number,
        "production_code": "",
        "runtime": rng.randint(22, 65),
        "season_number": season,
        "show_id": series.id,
        "still_path": f"/{path_token(rng)}.jpg",
    }
