"""The analyst questions in DuckDB's SQL, over a lake directory: the one copy of the text
docs/queries.md shows beside its Athena spelling (tests/test_answers.py holds the page to
it), and what the charts are drawn from.

``connect(lake)`` makes DuckDB views named as Athena's tables and views of
docs/queries.md (``tmdb_movies_latest``, ``tmdb_collections_latest``), reading only the
fields the questions use; ``answer(con, question)`` runs one question.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

# The views, over LAKE (the lake's directory). The genre is in the file name, the day in
# the key, as Athena reads them from "$path" and the partition.
VIEWS = r"""
CREATE OR REPLACE VIEW tmdb_movie_versions AS
SELECT id, title, popularity, release_date, keywords,
       regexp_extract(filename, '(\d{4}/\d{2}/\d{2})/[^/]+$', 1) AS day,
       regexp_extract(filename, '([^/]+)-[0-9]{5}\.json$', 1) AS genre
FROM read_json('LAKE/Raw/TMDB/JSON/Movies/*/*/*/*.json',
               format = 'newline_delimited', filename = true,
               columns = {id: 'BIGINT', title: 'VARCHAR', popularity: 'DOUBLE',
                          release_date: 'VARCHAR',
                          keywords: 'STRUCT(keywords STRUCT(id BIGINT, name VARCHAR)[])'});

CREATE OR REPLACE VIEW tmdb_movies_latest AS
SELECT *
FROM (
    SELECT v.*,
           row_number() OVER (PARTITION BY genre, id ORDER BY day DESC) AS version_rank
    FROM tmdb_movie_versions v
)
WHERE version_rank = 1;

CREATE OR REPLACE VIEW tmdb_collection_versions AS
SELECT id, name, parts,
       regexp_extract(filename, '(\d{4}/\d{2}/\d{2})/[^/]+$', 1) AS day,
       regexp_extract(filename, '([^/]+)-[0-9]{5}\.json$', 1) AS genre
FROM read_json('LAKE/Raw/TMDB/JSON/Collections/*/*/*/*.json',
               format = 'newline_delimited', filename = true,
               columns = {id: 'BIGINT', name: 'VARCHAR',
                          parts: 'STRUCT(id BIGINT, popularity DOUBLE)[]'});

CREATE OR REPLACE VIEW tmdb_collections_latest AS
SELECT *
FROM (
    SELECT v.*,
           row_number() OVER (PARTITION BY genre, id ORDER BY day DESC) AS version_rank
    FROM tmdb_collection_versions v
)
WHERE version_rank = 1;
"""

FRANCHISES = """
SELECT genre, id, name, films, avg_popularity
FROM (
    SELECT genre, id, name, films, avg_popularity,
           row_number() OVER (PARTITION BY genre ORDER BY avg_popularity DESC, id) AS rank
    FROM (
        SELECT c.genre, c.id, c.name,
               count(*) AS films,
               round(avg(popularity), 6) AS avg_popularity
        FROM tmdb_collections_latest c
        CROSS JOIN unnest(list_transform(c.parts, p -> p.popularity)) AS t(popularity)
        WHERE c.genre IN ('crime', 'war')
        GROUP BY c.genre, c.id, c.name
    )
)
WHERE rank <= 5
ORDER BY genre, rank;
"""

WARS = r"""
SELECT keyword AS war, count(DISTINCT m.id) AS films
FROM tmdb_movies_latest m
CROSS JOIN unnest(list_transform(m.keywords.keywords, k -> k.name)) AS t(keyword)
WHERE m.genre = 'war'
  AND regexp_matches(keyword, '\bwar( i{1,2})?$')
  AND keyword NOT IN ('war', 'anti war', 'post war', 'prisoner of war')
GROUP BY keyword
ORDER BY films DESC, war;
"""

CRIME_DECADES = """
SELECT CAST(floor(CAST(substr(release_date, 1, 4) AS integer) / 10) * 10 AS integer) AS decade,
       count(*) AS films,
       avg(popularity) AS avg_popularity,
       median(popularity) AS median_popularity
FROM tmdb_movies_latest
WHERE genre = 'crime' AND release_date <> ''
GROUP BY 1
ORDER BY 1;
"""


@dataclass(frozen=True, slots=True)
class Question:
    slug: str
    title: str
    sql: str
    columns: tuple[str, ...]


QUESTIONS = (
    Question(
        "franchises",
        "Which Crime and War franchises are most popular?",
        FRANCHISES,
        ("genre", "id", "name", "films", "avg_popularity"),
    ),
    Question("wars", "Which wars do War films portray most?", WARS, ("war", "films")),
    Question(
        "crime_decades",
        "How did crime-film popularity move over the decades?",
        CRIME_DECADES,
        ("decade", "films", "avg_popularity", "median_popularity"),
    ),
)


class NoTmdbData(Exception):
    """The lake holds no TMDB movies or collections to answer from."""


def connect(lake: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the views over ``lake`` (a directory)."""
    for kind in ("Movies", "Collections"):
        if not any((lake / "Raw" / "TMDB" / "JSON" / kind).glob("*/*/*/*.json")):
            raise NoTmdbData(f"{lake} holds no TMDB {kind.lower()} under Raw/TMDB/JSON/{kind}/")
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    # The path goes in as a literal: DuckDB takes no parameters in a table function's glob
    # inside a view, and a quote in the path would end it.
    con.execute(VIEWS.replace("LAKE", lake.resolve().as_posix().replace("'", "''")))
    return con


def answer(con: duckdb.DuckDBPyConnection, question: Question) -> list[tuple[Any, ...]]:
    return con.execute(question.sql).fetchall()
