"""What the stand-in answers: TMDB's response bodies, derived deterministically per id.

A movie's stable fields (language, images, budget, keywords) come from its id and the
catalogue's seed; its volatile fields (overview, votes) also from its ``revision``, which
the catalogue's clock bumps when the movie changes, so a changed movie's body differs.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from typing import Any

from ingest.standin.records import FakeCollection, FakeMovie

GENRE_NAMES = {
    28: "Action",
    12: "Adventure",
    16: "Animation",
    35: "Comedy",
    80: "Crime",
    99: "Documentary",
    18: "Drama",
    10751: "Family",
    14: "Fantasy",
    36: "History",
    27: "Horror",
    10402: "Music",
    9648: "Mystery",
    10749: "Romance",
    878: "Science Fiction",
    10770: "TV Movie",
    53: "Thriller",
    10752: "War",
    37: "Western",
}
_WORDS = (
    "Último",
    "Guerra",
    "Noite",
    "Cidade",
    "Coração",
    "Ação",
    "Sombra",
    "Lágrimas",
    "Éclair",
    "Frères",
    "Ímpeto",
    "Mañana",
    "Café",
    "Straße",
    "Sangue",
    "Ouro",
    "Fronteira",
    "Silence",
    "Empire",
    "Heist",
    "Soldier",
    "River",
    "Winter",
    "Code",
)
_KEYWORDS = (
    "world war ii",
    "heist",
    "mafia",
    "detective",
    "resistance",
    "prison",
    "revenge",
    "based on novel or book",
    "gangster",
    "espionage",
    "battlefield",
    "trial",
    "corruption",
    "femme fatale",
    "cold war",
    "biography",
    "nazi",
    "police",
    "drug cartel",
    "survival",
    "vietnam war",
    "serial killer",
    "courtroom",
    "hitman",
    "navy",
    "submarine",
    "ss",
    # Appended, so the ids above keep their values.
    "world war i",
    "korean war",
    "american civil war",
    "spanish civil war",
    "gulf war",
)
_WAR = 10752
# The wars War films are about, and how often: an estimate of how TMDB's keywords lean.
_WARS, _WAR_WEIGHTS = zip(
    *(
        ("world war ii", 40), ("world war i", 14), ("vietnam war", 12), ("cold war", 10),
        ("american civil war", 7), ("korean war", 5), ("spanish civil war", 4), ("gulf war", 3),
    ),
    strict=True,
)  # fmt: skip
_PLAIN_KEYWORDS = tuple(k for k in _KEYWORDS if k not in _WARS)
_LANGS = (
    ("en", "English", "English"),
    ("fr", "French", "Français"),
    ("pt", "Portuguese", "Português"),
    ("de", "German", "Deutsch"),
    ("ja", "Japanese", "日本語"),
    ("es", "Spanish", "Español"),
)
_COUNTRIES = (
    ("US", "United States of America"),
    ("FR", "France"),
    ("BR", "Brazil"),
    ("DE", "Germany"),
    ("JP", "Japan"),
    ("GB", "United Kingdom"),
)


def rng_for(seed: int, kind: int, item_id: int, revision: int = 0) -> random.Random:
    return random.Random(((seed * 1_000_003 + kind * 7_919 + item_id) * 1_009) + revision)


def summary(seed: int, movie: FakeMovie) -> dict[str, Any]:
    """A movie as discover's ``results`` and a collection's ``parts`` list it."""
    stable = rng_for(seed, 1, movie.id)
    volatile = rng_for(seed, 6, movie.id, movie.revision)
    lang = stable.choice(_LANGS)
    return {
        "adult": False,
        "backdrop_path": f"/{path_token(stable)}.jpg",
        "genre_ids": list(movie.genre_ids),
        "id": movie.id,
        "original_language": lang[0],
        "original_title": movie.title,
        "overview": overview(volatile),
        "popularity": movie.popularity,
        "poster_path": f"/{path_token(stable)}.jpg",
        "release_date": movie.release_date,
        "title": movie.title,
        "video": False,
        "vote_average": round(volatile.uniform(3, 9), 3),
        "vote_count": volatile.randint(0, 30_000),
    }


def detail(
    seed: int, movie: FakeMovie, coll: FakeCollection | None, append: Collection[str] = ()
) -> dict[str, Any]:
    """``/movie/{id}``, with ``keywords`` when ``append_to_response`` names it."""
    head = summary(seed, movie)
    rng = rng_for(seed, 2, movie.id)
    country = rng.choice(_COUNTRIES)
    lang = next(x for x in _LANGS if x[0] == head["original_language"])
    body: dict[str, Any] = {
        "adult": False,
        "backdrop_path": head["backdrop_path"],
        "belongs_to_collection": None if coll is None else collection_ref(seed, coll),
        "budget": rng.choice((0, rng.randint(1, 200) * 100_000)),
        "genres": [{"id": g, "name": GENRE_NAMES.get(g, "Drama")} for g in movie.genre_ids],
        "homepage": rng.choice(("", f"https://example.org/films/{movie.id}")),
        "id": movie.id,
        "imdb_id": f"tt{rng.randint(1, 9_999_999):07d}",
        "origin_country": [country[0]],
        "original_language": lang[0],
        "original_title": movie.title,
        "overview": head["overview"],
        "popularity": movie.popularity,
        "poster_path": head["poster_path"],
        "production_companies": [
            {
                "id": rng.randint(1, 200_000),
                "logo_path": rng.choice((None, "/logo.png")),
                "name": f"{rng.choice(_WORDS)} Filmes",
                "origin_country": country[0],
            }
            for _ in range(rng.randint(0, 3))
        ],
        "production_countries": [{"iso_3166_1": country[0], "name": country[1]}],
        "release_date": movie.release_date,
        "revenue": rng.choice((0, rng.randint(1, 900) * 1_000_000)),
        "runtime": rng.randint(70, 190),
        "spoken_languages": [{"english_name": lang[1], "iso_639_1": lang[0], "name": lang[2]}],
        "status": "Released" if movie.release_date else "In Production",
        "tagline": rng.choice(("", f"A história de {movie.title}.")),
        "title": movie.title,
        "video": False,
        "vote_average": head["vote_average"],
        "vote_count": head["vote_count"],
    }
    if "keywords" in append:
        body["keywords"] = {"keywords": keywords(seed, movie.id, movie.genre_ids)}
    return body


def keywords(seed: int, movie_id: int, genre_ids: Collection[int] = ()) -> list[dict[str, Any]]:
    """The movie's keywords, as ``/movie/{id}/keywords`` and the appended form list them. A
    war is a keyword of War films (one or two, World War II most often, as on TMDB)."""
    rng = rng_for(seed, 7, movie_id)
    words = rng.sample(_PLAIN_KEYWORDS, rng.randint(0, 6))
    if _WAR in genre_ids:
        wars = rng.choices(_WARS, _WAR_WEIGHTS, k=rng.randint(1, 2))
        words += [w for w in dict.fromkeys(wars) if w not in words]
    return [{"id": 1000 + _KEYWORDS.index(w), "name": w} for w in words]


def collection_ref(seed: int, coll: FakeCollection) -> dict[str, Any]:
    return {
        "id": coll.id,
        "name": coll.name,
        "poster_path": f"/{path_token(rng_for(seed, 3, coll.id))}.jpg",
        "backdrop_path": f"/{path_token(rng_for(seed, 4, coll.id))}.jpg",
    }


def collection(seed: int, coll: FakeCollection, parts: list[FakeMovie]) -> dict[str, Any]:
    """``/collection/{id}``: the franchise and its movies (``parts``)."""
    listed = [summary(seed, m) | {"media_type": "movie"} for m in parts]
    ref = collection_ref(seed, coll)
    # TMDB's own key order: id, the names, overview, then the images, then the parts. A
    # franchise's language is its first film's; its name is already in that language.
    return {
        "id": ref["id"],
        "name": ref["name"],
        "original_language": listed[0]["original_language"] if listed else "en",
        "original_name": ref["name"],
        "overview": overview(rng_for(seed, 5, coll.id)),
        "poster_path": ref["poster_path"],
        "backdrop_path": ref["backdrop_path"],
        "parts": listed,
    }


def title(rng: random.Random) -> str:
    return " ".join(rng.sample(_WORDS, rng.randint(1, 3)))


def popularity(rng: random.Random) -> float:
    # Long tail, and a crowd of obscure films tied at the same low values, as on TMDB.
    if rng.random() < 0.25:
        return round(0.6 + rng.randint(0, 4) * 0.1, 3)
    return round(0.6 + rng.lognormvariate(0.5, 1.3), 3)


def release_date(rng: random.Random) -> str:
    year = max(1900, 2025 - int(rng.expovariate(1 / 18)))
    return f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def path_token(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789") for _ in range(27))


def overview(rng: random.Random) -> str:
    words = [rng.choice(_WORDS).lower() for _ in range(rng.randint(12, 40))]
    return "Em São Paulo, " + " ".join(words) + "; à noite, tudo muda."
