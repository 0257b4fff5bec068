"""The analyst questions in DuckDB's SQL, over a lake directory: the one copy of the text
docs/queries.md shows beside its Athena spelling (tests/test_answers.py holds the page to
it), and what the charts are drawn from.

``connect(lake)`` makes DuckDB views named as Athena's tables and views of
docs/queries.md: every stored version of each record (``tmdb_movie_versions``,
``tmdb_collection_versions``), the pipeline's own record of which days are complete and
what they removed (``tmdb_state``, ``tmdb_done_markers``, ``tmdb_complete_days``,
``tmdb_latest_days``, ``tmdb_removals``), and the state of each dataset after its last
day (``tmdb_movies_latest``, ``tmdb_collections_latest``). It also loads the questions'
definitions, the CSV files of ``definitions/`` (wars and their years, crime themes,
thresholds), as tables. ``answer(con, question)`` runs one question.

The views are written per *kind* (``movies``, ``collections``) and *dataset* (a genre's
slug, or ``catalogue``), read from the state folders' names (``<kind>-<dataset>``), so a
kind added later (TV series) needs its versions view and a ten-line latest view, nothing
else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ingest.state import keys

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"

# The definitions, as tables: DEFS is the definitions folder (ingest/answers/definitions).
DEFINITIONS = """
CREATE OR REPLACE TABLE answer_wars AS
SELECT * FROM read_csv('DEFS/wars.csv', header = true,
                       columns = {keyword: 'VARCHAR', war: 'VARCHAR', start_year: 'INTEGER',
                                  end_year: 'INTEGER', wartime: 'BOOLEAN'});

CREATE OR REPLACE TABLE answer_crime_themes AS
SELECT * FROM read_csv('DEFS/crime_themes.csv', header = true,
                       columns = {keyword: 'VARCHAR', theme: 'VARCHAR', kind: 'VARCHAR'});

CREATE OR REPLACE TABLE answer_thresholds AS
SELECT * FROM read_csv('DEFS/thresholds.csv', header = true,
                       columns = {name: 'VARCHAR', value: 'INTEGER', meaning: 'VARCHAR'});
"""

# The views, over LAKE (the lake's directory). The dataset is in the file name, the day in
# the key, as Athena reads them from "$path" and the partition. First the records' versions,
# then the state that makes the latest views (tests/test_query_duckdb.py runs the second
# part over tables declared from the Glue columns).
VERSIONS = r"""
-- Every stored version of every movie, with its dataset (a genre, or the catalogue).
CREATE OR REPLACE VIEW tmdb_movie_versions AS
SELECT id, title, popularity, release_date, vote_average, vote_count, keywords,
       belongs_to_collection,
       regexp_extract(filename, '(\d{4}/\d{2}/\d{2})/[^/]+$', 1) AS day,
       regexp_extract(filename, '([^/]+)-[0-9]{5,6}\.json$', 1) AS dataset
FROM read_json('LAKE/Raw/TMDB/JSON/Movies/*/*/*/*.json',
               format = 'newline_delimited', filename = true,
               columns = {id: 'BIGINT', title: 'VARCHAR', popularity: 'DOUBLE',
                          release_date: 'VARCHAR', vote_average: 'DOUBLE', vote_count: 'BIGINT',
                          keywords: 'STRUCT(keywords STRUCT(id BIGINT, name VARCHAR)[])',
                          belongs_to_collection: 'STRUCT(id BIGINT, name VARCHAR)'});

CREATE OR REPLACE VIEW tmdb_collection_versions AS
SELECT id, name, parts,
       regexp_extract(filename, '(\d{4}/\d{2}/\d{2})/[^/]+$', 1) AS day,
       regexp_extract(filename, '([^/]+)-[0-9]{5,6}\.json$', 1) AS dataset
FROM read_json('LAKE/Raw/TMDB/JSON/Collections/*/*/*/*.json',
               format = 'newline_delimited', filename = true,
               columns = {id: 'BIGINT', name: 'VARCHAR',
                          parts: 'STRUCT(id BIGINT, popularity DOUBLE)[]'});
"""

LATEST = r"""
-- The pipeline's records of each dataset's day, _ingest/YYYY/MM/DD/tmdb/<kind>-<dataset>/:
-- removed.json (a genre's day is complete; what it removed), catalogue.json (the
-- catalogue's plan) and removed-<plan_id>.json (what the catalogue's day removed).
CREATE OR REPLACE VIEW tmdb_state AS
SELECT regexp_extract(filename, '(\d{4}/\d{2}/\d{2})/tmdb/', 1) AS day,
       regexp_extract(filename, '/tmdb/([a-z]+)-[^/]+/[^/]+$', 1) AS kind,
       regexp_extract(filename, '/tmdb/[a-z]+-([^/]+)/[^/]+$', 1) AS dataset,
       regexp_extract(filename, '([^/]+)$', 1) AS file,
       plan_id, refresh, count, left_genre, not_found, ids
FROM read_json('LAKE/STATE/*/*/*/tmdb/*/*.json', format = 'auto', filename = true,
               columns = {plan_id: 'VARCHAR', refresh: 'VARCHAR', count: 'BIGINT',
                          left_genre: 'BIGINT[]', not_found: 'BIGINT[]', ids: 'BIGINT[]'});

-- A batch's done-marker: <batch>-n<ids>-w<written>-f<files>-<plan_id>.done.
CREATE OR REPLACE VIEW tmdb_done_markers AS
SELECT regexp_extract(file, '(\d{4}/\d{2}/\d{2})/tmdb/', 1) AS day,
       regexp_extract(file, '/tmdb/([a-z]+)-[^/]+/done/', 1) AS kind,
       regexp_extract(file, '/tmdb/[a-z]+-([^/]+)/done/', 1) AS dataset,
       CAST(regexp_extract(file, '/done/([0-9]+)-', 1) AS INTEGER) AS batch,
       regexp_extract(file, '-([0-9a-f]+)\.done$', 1) AS plan_id
FROM glob('LAKE/STATE/*/*/*/tmdb/*/done/*.done');

-- The complete days of each dataset, full or incremental. A genre's day is complete once
-- its removed.json is written (the run's last step), for its movies and its collections;
-- the catalogue's, once every batch of the day's plan has its done-marker.
CREATE OR REPLACE VIEW tmdb_complete_days AS
SELECT kind, dataset, day, refresh
FROM tmdb_state
WHERE file = 'removed.json'
UNION ALL
SELECT 'collections', dataset, day, refresh
FROM tmdb_state
WHERE file = 'removed.json' AND kind = 'movies'
UNION ALL
SELECT h.kind, h.dataset, h.day, h.refresh
FROM tmdb_state h
WHERE h.file = 'catalogue.json'
  AND (SELECT count(DISTINCT m.batch) FROM tmdb_done_markers m
       WHERE m.day = h.day AND m.kind = h.kind AND m.dataset = h.dataset
         AND m.plan_id = h.plan_id) = (h.count + 99) // 100;

-- The days the latest state is made of: each dataset's last complete full snapshot, and
-- the complete incremental days after it.
CREATE OR REPLACE VIEW tmdb_latest_days AS
SELECT d.kind, d.dataset, d.day
FROM tmdb_complete_days d
JOIN (SELECT kind, dataset, max(day) AS since
      FROM tmdb_complete_days
      WHERE refresh = 'full'
      GROUP BY kind, dataset) s
  ON s.kind = d.kind AND s.dataset = d.dataset AND d.day >= s.since;

-- The ids each day removed from its dataset: a genre's removed.json (left the genre, or
-- TMDB answered 404), the catalogue's removed-<plan_id>.json of the day's plan.
CREATE OR REPLACE VIEW tmdb_removals AS
SELECT s.kind, s.dataset, s.day, t.id
FROM tmdb_state s
CROSS JOIN unnest(list_concat(s.left_genre, s.not_found)) AS t(id)
WHERE s.file = 'removed.json'
UNION ALL
SELECT s.kind, s.dataset, s.day, t.id
FROM tmdb_state s
JOIN tmdb_state h
  ON h.file = 'catalogue.json' AND h.day = s.day AND h.kind = s.kind
 AND h.dataset = s.dataset AND h.plan_id = s.plan_id
CROSS JOIN unnest(s.ids) AS t(id)
WHERE s.file LIKE 'removed-%.json';

-- Each dataset's movies as of its last day: the newest version from the latest days,
-- unless one of those days removed the movie on or after that version's day.
CREATE OR REPLACE VIEW tmdb_movies_latest AS
SELECT v.*
FROM (
    SELECT v.*,
           row_number() OVER (PARTITION BY v.dataset, v.id ORDER BY v.day DESC) AS version_rank
    FROM tmdb_movie_versions v
    JOIN tmdb_latest_days d ON d.kind = 'movies' AND d.dataset = v.dataset AND d.day = v.day
) v
WHERE v.version_rank = 1
  AND NOT EXISTS (
      SELECT 1
      FROM tmdb_removals r
      JOIN tmdb_latest_days d ON d.kind = r.kind AND d.dataset = r.dataset AND d.day = r.day
      WHERE r.kind = 'movies' AND r.dataset = v.dataset AND r.id = v.id AND r.day >= v.day
  );

-- Each dataset's collections as of its last day: a genre's are those its latest movies
-- belong to; the catalogue's are the day's collection export.
CREATE OR REPLACE VIEW tmdb_collections_latest AS
SELECT c.*
FROM (
    SELECT c.*,
           row_number() OVER (PARTITION BY c.dataset, c.id ORDER BY c.day DESC) AS version_rank
    FROM tmdb_collection_versions c
    JOIN tmdb_latest_days d ON d.kind = 'collections' AND d.dataset = c.dataset AND d.day = c.day
) c
WHERE c.version_rank = 1
  AND (c.dataset = 'catalogue'
       OR EXISTS (SELECT 1 FROM tmdb_movies_latest m
                  WHERE m.dataset = c.dataset AND m.belongs_to_collection.id = c.id));
"""

# The state folder's name is the state package's (``ingest.state.keys``).
LATEST = LATEST.replace("STATE", keys.ROOT)
VIEWS = VERSIONS + LATEST

FRANCHISES = """
SELECT dataset AS genre, id, name, films, avg_popularity
FROM (
    SELECT dataset, id, name, films, avg_popularity,
           row_number() OVER (PARTITION BY dataset ORDER BY avg_popularity DESC, id) AS rank
    FROM (
        SELECT c.dataset, c.id, c.name,
               count(*) AS films,
               round(avg(popularity), 6) AS avg_popularity
        FROM tmdb_collections_latest c
        CROSS JOIN unnest(list_transform(c.parts, p -> p.popularity)) AS t(popularity)
        WHERE c.dataset IN ('crime', 'war')
        GROUP BY c.dataset, c.id, c.name
    )
)
WHERE rank <= 5
ORDER BY genre, rank;
"""

WARS = """
SELECT w.war, w.start_year, w.end_year, count(DISTINCT m.id) AS films
FROM tmdb_movies_latest m
CROSS JOIN unnest(list_transform(m.keywords.keywords, k -> k.name)) AS t(keyword)
JOIN answer_wars w ON w.keyword = t.keyword
WHERE m.dataset = 'war'
GROUP BY w.war, w.start_year, w.end_year
ORDER BY films DESC, w.war;
"""

BEST_OF_TOP_WAR = """
WITH war_films AS (
    SELECT DISTINCT w.war, m.id, m.title, m.release_date, m.vote_average, m.vote_count
    FROM tmdb_movies_latest m
    CROSS JOIN unnest(list_transform(m.keywords.keywords, k -> k.name)) AS t(keyword)
    JOIN answer_wars w ON w.keyword = t.keyword
    WHERE m.dataset = 'war'
),
top_war AS (
    SELECT war FROM war_films GROUP BY war ORDER BY count(*) DESC, war LIMIT 1
)
SELECT f.war, f.id, f.title, substr(f.release_date, 1, 4) AS year,
       f.vote_average AS critics_score, f.vote_count AS votes
FROM war_films f
JOIN top_war USING (war)
WHERE f.vote_count >= (SELECT value FROM answer_thresholds WHERE name = 'min_vote_count')
ORDER BY critics_score DESC, votes DESC, f.id
LIMIT 10;
"""

WARTIME_CRIME = """
WITH crime AS (
    SELECT CAST(substr(release_date, 1, 4) AS INTEGER) AS year, vote_average, vote_count
    FROM tmdb_movies_latest
    WHERE dataset = 'crime' AND release_date <> ''
),
wars AS (
    SELECT DISTINCT war, start_year, end_year, end_year - start_year + 1 AS span
    FROM answer_wars
    WHERE wartime
),
periods AS (
    SELECT war, start_year, 1 AS step, 'before' AS period,
           start_year - span AS first_year, start_year - 1 AS last_year
    FROM wars
    UNION ALL
    SELECT war, start_year, 2, 'during', start_year, end_year FROM wars
    UNION ALL
    SELECT war, start_year, 3, 'after', end_year + 1,
           least(end_year + span, year(current_date) - 1)
    FROM wars
)
SELECT p.war, p.period, p.first_year, p.last_year,
       count(c.year) AS films,
       round(CAST(count(c.year) AS DOUBLE) / (p.last_year - p.first_year + 1), 3) AS films_per_year,
       count(c.year) FILTER (WHERE c.vote_count >= t.value) AS rated_films,
       round(avg(c.vote_average) FILTER (WHERE c.vote_count >= t.value), 3) AS audience_rating
FROM periods p
CROSS JOIN (SELECT value FROM answer_thresholds WHERE name = 'min_vote_count') t
LEFT JOIN crime c ON c.year BETWEEN p.first_year AND p.last_year
GROUP BY p.war, p.start_year, p.step, p.period, p.first_year, p.last_year
ORDER BY p.start_year, p.war, p.step;
"""

CRIME_THEMES = """
SELECT th.theme, th.kind, count(DISTINCT m.id) AS films,
       round(100 * CAST(count(DISTINCT m.id) AS DOUBLE)
             / (SELECT count(*) FROM tmdb_movies_latest WHERE dataset = 'crime'), 1) AS share_pct
FROM tmdb_movies_latest m
CROSS JOIN unnest(list_transform(m.keywords.keywords, k -> k.name)) AS t(keyword)
JOIN answer_crime_themes th ON th.keyword = t.keyword
WHERE m.dataset = 'crime'
GROUP BY th.theme, th.kind
ORDER BY films DESC, th.theme;
"""

CRIME_DECADES = """
SELECT CAST(floor(CAST(substr(release_date, 1, 4) AS integer) / 10) * 10 AS integer) AS decade,
       count(*) AS films,
       avg(popularity) AS avg_popularity,
       median(popularity) AS median_popularity,
       count(*) >= (SELECT value FROM answer_thresholds WHERE name = 'min_films') AS enough
FROM tmdb_movies_latest
WHERE dataset = 'crime' AND release_date <> ''
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
        "1. Which Crime and War franchises are most popular, and how do they compare?",
        FRANCHISES,
        ("genre", "id", "name", "films", "avg_popularity"),
    ),
    Question(
        "wars",
        "2. Which wars do War films portray most?",
        WARS,
        ("war", "start_year", "end_year", "films"),
    ),
    Question(
        "best_of_top_war",
        "3. Of the war portrayed most, which films have the best critics' score?",
        BEST_OF_TOP_WAR,
        ("war", "id", "title", "year", "critics_score", "votes"),
    ),
    Question(
        "wartime_crime",
        "4. In wartime, were more or fewer crime films made, and how were they rated?",
        WARTIME_CRIME,
        (
            "war",
            "period",
            "first_year",
            "last_year",
            "films",
            "films_per_year",
            "rated_films",
            "audience_rating",
        ),
    ),
    Question(
        "crime_themes",
        "5. Which crime or theme do Crime films portray most?",
        CRIME_THEMES,
        ("theme", "kind", "films", "share_pct"),
    ),
    Question(
        "crime_decades",
        "6. How did crime-film popularity move over the decades?",
        CRIME_DECADES,
        ("decade", "films", "avg_popularity", "median_popularity", "enough"),
    ),
)
BY_SLUG = {q.slug: q for q in QUESTIONS}


class NoTmdbData(Exception):
    """The lake holds no TMDB movies or collections to answer from."""


def connect(lake: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the definitions and the views over ``lake`` (a directory)."""
    for kind in ("Movies", "Collections"):
        if not any((lake / "Raw" / "TMDB" / "JSON" / kind).glob("*/*/*/*.json")):
            raise NoTmdbData(f"{lake} holds no TMDB {kind.lower()} under Raw/TMDB/JSON/{kind}/")
    if not any((lake / keys.ROOT).glob("*/*/*/tmdb/*/*.json")):
        raise NoTmdbData(f"{lake} holds no record of its TMDB days under {keys.ROOT}/")
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    load_definitions(con)
    # The path goes in as a literal: DuckDB takes no parameters in a table function's glob
    # inside a view, and a quote in the path would end it.
    con.execute(VIEWS.replace("LAKE", _literal(lake.resolve())))
    return con


def load_definitions(con: duckdb.DuckDBPyConnection, folder: Path = DEFINITIONS_DIR) -> None:
    """The questions' definitions (``definitions/*.csv``) as the tables the SQL reads."""
    con.execute(DEFINITIONS.replace("DEFS", _literal(folder)))


def thresholds(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The thresholds table, by name: what the charts say their rules are."""
    return {
        str(name): int(value)
        for name, value in con.execute("SELECT name, value FROM answer_thresholds").fetchall()
    }


def _literal(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def answer(con: duckdb.DuckDBPyConnection, question: Question) -> list[tuple[Any, ...]]:
    return con.execute(question.sql).fetchall()
