"""The Raw zone read by a real query engine: DuckDB, over a lake the pipeline wrote (a
directory, and S3 in moto's server mode through DuckDB's httpfs extension, loaded from
the ``duckdb-extension-httpfs`` wheel because nothing may be downloaded at run time).

The tables are declared from template.yaml's Glue columns (the one owner of the schema),
so a column type that does not fit what TMDB sends fails here as it would in Athena. The
analyst questions of docs/queries.md run in their DuckDB spelling and their answers are
checked against what the stand-in served, computed from its ``Catalog``. A prefix that a
query engine cannot read as one table (another structure mixed in, a line that is not a
record) fails ``shape_problems``.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import importlib.util
import re
import shutil
import statistics
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from ingest.answers import queries
from ingest.lake.keys import Kind, tmdb_key
from ingest.standin import Catalog
from ingest.state import open_lake
from ingest.state.plan import Plan
from ingest.state.removed import Removed, removed_key
from tests.glue_tables import GlueTable, glue_tables
from tests.raw_lake import CRIME, CSV_FILES, WAR, small_catalog, small_tv, write_raw_zone
from tests.tmdb_fixtures import DATE

ROOT = Path(__file__).resolve().parents[1]
_DAY = r"(\d{4}/\d{2}/\d{2})/[^/]+$"
_DATASET = r"([^/]+)-\d{5,6}\.json$"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return small_catalog()


@pytest.fixture(scope="module")
def gone(catalog: Catalog) -> set[int]:
    return set(sorted(catalog.genre_ids(WAR))[5:7])


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog, gone: set[int]) -> Path:
    root = tmp_path_factory.mktemp("lake")

    async def fill() -> None:
        async with open_lake(str(root)) as lake:
            await write_raw_zone(lake, catalog, gone_ids=gone)

    asyncio.run(fill())
    return root


@pytest.fixture
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    # Nothing may be fetched from the network: every extension comes from a wheel.
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        yield con
    finally:
        con.close()


def load_httpfs(con: duckdb.DuckDBPyConnection, endpoint: str) -> None:
    """DuckDB's own S3 client, pointed at moto with path-style URLs and plain HTTP."""
    # The wheel is a folder of binaries (no Python API): find it without importing it.
    spec = importlib.util.find_spec("duckdb_extension_httpfs")
    assert spec is not None and spec.origin is not None, "pip install -e '.[test]' brings the httpfs wheel"
    package = Path(spec.origin).parent
    (extension,) = package.glob(f"extensions/v{duckdb.__version__}/**/httpfs.duckdb_extension")
    con.execute(f"LOAD '{extension}'")
    settings = {
        "s3_endpoint": endpoint.removeprefix("http://"),
        "s3_url_style": "path",
        "s3_use_ssl": "false",
        "s3_region": "us-east-1",
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing",
        # The views read the same small state files for every query: list and stat them once.
        "enable_http_metadata_cache": "true",
        "enable_external_file_cache": "true",
    }
    for name, value in settings.items():
        con.execute(f"SET {name} = '{value}'")


def _glob(root: str, t: GlueTable) -> str:
    return f"{root}/{t.prefix}/*/*/*/*.{'csv' if t.name.endswith('_csv') else 'json'}"


def _struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"


def register_raw_zone(con: duckdb.DuckDBPyConnection, root: str) -> None:
    """One view per Glue table (its columns, ``path`` for Athena's "$path", ``day`` for the
    projected partition), then the views of docs/queries.md in DuckDB's spelling."""
    for t in glue_tables().values():
        if t.name.endswith("_csv"):
            # LazySimpleSerDe has no quoting: neither has this reader.
            source = (
                f"read_csv('{_glob(root, t)}', delim='|', quote='', escape='', nullstr='\\N', "
                f"header=true, columns={_struct(t.duckdb_columns())}, filename=true)"
            )
        else:
            source = (
                f"read_json('{_glob(root, t)}', format='newline_delimited', "
                f"columns={_struct(t.duckdb_columns())}, filename=true)"
            )
        con.execute(
            f"CREATE OR REPLACE VIEW {t.name} AS SELECT * EXCLUDE (filename), filename AS path, "
            f"regexp_extract(filename, '{_DAY}', 1) AS day FROM {source}"
        )
    # The versions with their dataset, then docs/queries.md's state and latest views, which
    # read the pipeline's records under _ingest/ (on S3 too: DuckDB's glob lists it).
    for table, versions in (
        ("tmdb_movies", "tmdb_movie_versions"),
        ("tmdb_collections", "tmdb_collection_versions"),
    ):
        con.execute(
            f"CREATE OR REPLACE VIEW {versions} AS "
            f"SELECT *, regexp_extract(path, '{_DATASET}', 1) AS dataset FROM {table}"
        )
    con.execute(queries.LATEST.replace("LAKE", root))
    queries.load_definitions(con)


def shape_problems(con: duckdb.DuckDBPyConnection, root: str) -> list[str]:
    """What stops a JSON prefix from being read as its one table: a line that is not a
    JSON object, a field the table does not declare (another structure mixed in), a record
    without an id, a value its declared type cannot hold."""
    problems = []
    for t in glue_tables().values():
        if t.name.endswith("_csv"):
            continue
        declared = {name for name, _ in t.columns}
        try:
            files = con.execute(
                f"""SELECT filename,
                       count(*) FILTER (WHERE json_type(json) <> 'OBJECT'),
                       count(*) FILTER (WHERE json_type(json) = 'OBJECT' AND json_extract(json, '$.id') IS NULL),
                       list_distinct(flatten(list(json_keys(json)) FILTER (WHERE json_type(json) = 'OBJECT')))
                FROM read_ndjson_objects('{_glob(root, t)}', filename=true) GROUP BY filename"""
            ).fetchall()
            con.execute(f"SELECT count(*) FROM {t.name}").fetchall()
        except duckdb.Error as exc:
            problems.append(f"{t.name}: {exc}")
            continue
        for filename, not_records, without_id, keys in files:
            if not_records:
                problems.append(f"{filename}: {not_records} line(s) are not JSON objects")
            if without_id:
                problems.append(f"{filename}: {without_id} record(s) have no id")
            if undeclared := sorted(set(keys) - declared):
                problems.append(f"{filename}: fields {undeclared} are not columns of {t.name}")
    return problems


# The analyst questions, in DuckDB's spelling: the copy docs/queries.md shows and
# python -m ingest.answers runs.
SQL = {q.slug: q.sql for q in queries.QUESTIONS}
DEFINITIONS = queries.DEFINITIONS_DIR


def _definitions(name: str) -> list[dict[str, str]]:
    with (DEFINITIONS / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


MIN_VOTES = next(int(r["value"]) for r in _definitions("thresholds") if r["name"] == "min_vote_count")
MIN_FILMS = next(int(r["value"]) for r in _definitions("thresholds") if r["name"] == "min_films")


def _keywords(catalog: Catalog, movie_id: int) -> set[str]:
    return {k["name"] for k in catalog.detail(movie_id, {"keywords"})["keywords"]["keywords"]}


def expected_franchises(catalog: Catalog, genre_id: int, gone: set[int]) -> list[tuple[int, str, int]]:
    fetched = catalog.genre_ids(genre_id) - gone
    ranked = []
    for cid in catalog.collection_ids(fetched):
        coll = catalog.collections[cid]
        mean = statistics.fmean(catalog.movies[m].popularity for m in coll.movie_ids)
        ranked.append((-round(mean, 6), cid, coll.name, len(coll.movie_ids)))
    return [(cid, name, films) for _, cid, name, films in sorted(ranked)[:5]]


def war_films(catalog: Catalog, gone: set[int]) -> dict[str, set[int]]:
    """Each war of wars.csv: the War films whose keywords name it."""
    wars = {r["keyword"]: r["war"] for r in _definitions("wars")}
    films: dict[str, set[int]] = defaultdict(set)
    for movie_id in catalog.genre_ids(WAR) - gone:
        for keyword in _keywords(catalog, movie_id) & set(wars):
            films[wars[keyword]].add(movie_id)
    return films


def expected_wars(catalog: Catalog, gone: set[int]) -> list[tuple[str, int]]:
    return sorted(
        ((w, len(ids)) for w, ids in war_films(catalog, gone).items()), key=lambda kv: (-kv[1], kv[0])
    )


def expected_best_of_top_war(catalog: Catalog, gone: set[int]) -> list[tuple[str, int, float]]:
    top, _ = expected_wars(catalog, gone)[0]
    scored = []
    for movie_id in war_films(catalog, gone)[top]:
        sent = catalog.detail(movie_id)
        if sent["vote_count"] >= MIN_VOTES:
            scored.append((-sent["vote_average"], -sent["vote_count"], movie_id))
    return [(top, movie_id, -score) for score, _, movie_id in sorted(scored)[:10]]


def expected_crime_themes(catalog: Catalog) -> list[tuple[str, int]]:
    themes = {r["keyword"]: r["theme"] for r in _definitions("crime_themes")}
    films: dict[str, set[int]] = defaultdict(set)
    for movie_id in catalog.genre_ids(CRIME):
        for keyword in _keywords(catalog, movie_id) & set(themes):
            films[themes[keyword]].add(movie_id)
    return sorted(((t, len(ids)) for t, ids in films.items()), key=lambda kv: (-kv[1], kv[0]))


def expected_wartime(catalog: Catalog, this_year: int) -> list[tuple[str, str, int, int, int]]:
    """Per wartime war: before, during and after, each (war, period, first, last, films)."""
    years = [
        int(catalog.movies[i].release_date[:4])
        for i in catalog.genre_ids(CRIME)
        if catalog.movies[i].release_date
    ]
    out = []
    wars = sorted(
        {
            (int(r["start_year"]), r["war"], int(r["end_year"]))
            for r in _definitions("wars")
            if r["wartime"] == "true"
        }
    )
    for start, war, end in wars:
        span = end - start + 1
        periods = (
            ("before", start - span, start - 1),
            ("during", start, end),
            ("after", end + 1, min(end + span, this_year - 1)),
        )
        out += [(war, p, a, b, sum(a <= y <= b for y in years)) for p, a, b in periods]
    return out


def expected_crime_decades(catalog: Catalog) -> list[tuple[int, int, float, float]]:
    by_decade: dict[int, list[float]] = defaultdict(list)
    for movie_id in catalog.genre_ids(CRIME):
        movie = catalog.movies[movie_id]
        if movie.release_date:
            by_decade[int(movie.release_date[:4]) // 10 * 10].append(movie.popularity)
    return [(d, len(p), statistics.fmean(p), statistics.median(p)) for d, p in sorted(by_decade.items())]


def check_analyst_answers(con: duckdb.DuckDBPyConnection, catalog: Catalog, gone: set[int]) -> None:
    franchises = con.execute(SQL["franchises"]).fetchall()
    for genre, genre_id in (("crime", CRIME), ("war", WAR)):
        got = [(cid, name, films) for g, cid, name, films, _ in franchises if g == genre]
        assert got == expected_franchises(catalog, genre_id, gone)
    wars = con.execute(SQL["wars"]).fetchall()
    assert [(w, n) for w, _, _, n in wars] == expected_wars(catalog, gone)
    assert {w for w, *_ in wars} == {
        "World War I",
        "World War II",
        "Cold War",
        "Vietnam War",
        "Korean War",
        "American Civil War",
        "Spanish Civil War",
        "Gulf War",
    }
    best = con.execute(SQL["best_of_top_war"]).fetchall()
    assert [(w, i, s) for w, i, _, _, s, _ in best] == expected_best_of_top_war(catalog, gone)
    assert len(best) == 10
    wartime = con.execute(SQL["wartime_crime"]).fetchall()
    (this_year,) = con.execute("SELECT year(current_date)").fetchone() or (0,)
    assert [r[:5] for r in wartime] == expected_wartime(catalog, this_year)
    themes = con.execute(SQL["crime_themes"]).fetchall()
    assert [(t, n) for t, _, n, _ in themes] == expected_crime_themes(catalog)
    decades = con.execute(SQL["crime_decades"]).fetchall()
    want = expected_crime_decades(catalog)
    assert [(d, n, enough) for d, n, _, _, enough in decades] == [
        (d, n, n >= MIN_FILMS) for d, n, _, _ in want
    ]
    assert [avg for _, _, avg, _, _ in decades] == pytest.approx([avg for _, _, avg, _ in want])
    assert [med for _, _, _, med, _ in decades] == pytest.approx([med for *_, med in want])


def check_every_dataset(con: duckdb.DuckDBPyConnection, catalog: Catalog, gone: set[int]) -> None:
    # CSV: every row, "\N" as NULL (in text and in numeric columns), the day from the path.
    for table, path in zip(("movies_csv", "series_csv"), CSV_FILES, strict=True):
        header, *lines = path.read_bytes().decode().splitlines()
        role, died_in = header.split("|").index("personagem"), header.split("|").index("anoFalecimento")
        nulls = sum(line.split("|")[role] == "\\N" for line in lines)
        died = sum(line.split("|")[died_in] == "\\N" for line in lines)
        row = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE personagem IS NULL), "
            f"count(*) FILTER (WHERE anofalecimento IS NULL), min(day), max(day) FROM {table}"
        ).fetchone()
        assert row == (len(lines), nulls, died, "2026/11/28", "2026/11/28")
        assert 0 < nulls < len(lines)
    # TMDB movies: each genre's movies once, nested fields as TMDB sent them.
    for genre, genre_id in (("war", WAR), ("crime", CRIME)):
        ids = {
            i
            for (i,) in con.execute(f"SELECT id FROM tmdb_movies_latest WHERE dataset = '{genre}'").fetchall()
        }
        assert ids == catalog.genre_ids(genre_id) - gone
        rows = con.execute(
            "SELECT id, keywords.keywords, belongs_to_collection.id, genres, production_countries "
            f"FROM tmdb_movies WHERE path LIKE '%/{genre}-%'"
        ).fetchall()
        assert len(rows) == len(ids)
        for movie_id, keywords, collection_id, genres, countries in rows:
            sent = catalog.detail(movie_id, {"keywords"})
            assert keywords == sent["keywords"]["keywords"]
            assert collection_id == (sent["belongs_to_collection"] or {}).get("id")
            assert genres == sent["genres"] and countries == sent["production_countries"]
    # TMDB collections: each genre's franchises once, their parts in order.
    for genre, genre_id in (("war", WAR), ("crime", CRIME)):
        rows = con.execute(
            f"SELECT id, list_transform(parts, p -> p.id) FROM tmdb_collections_latest WHERE dataset = '{genre}'"
        ).fetchall()
        assert {cid for cid, _ in rows} == catalog.collection_ids(catalog.genre_ids(genre_id) - gone)
        assert all(parts == list(catalog.collections[cid].movie_ids) for cid, parts in rows)


def test_duckdb_reads_every_raw_dataset_of_a_local_lake(
    duck: duckdb.DuckDBPyConnection, local_lake: Path, catalog: Catalog, gone: set[int]
) -> None:
    register_raw_zone(duck, str(local_lake))
    assert shape_problems(duck, str(local_lake)) == []
    check_every_dataset(duck, catalog, gone)


def test_the_analyst_questions_answer_what_tmdb_served(
    duck: duckdb.DuckDBPyConnection, local_lake: Path, catalog: Catalog, gone: set[int]
) -> None:
    register_raw_zone(duck, str(local_lake))
    check_analyst_answers(duck, catalog, gone)


def test_series_csv_joins_tmdb_series_by_imdb_id(
    duck: duckdb.DuckDBPyConnection, local_lake: Path, catalog: Catalog
) -> None:
    register_raw_zone(duck, str(local_lake))
    blocks = re.findall(r"```sql\n(.*?)```", (ROOT / "docs" / "queries.md").read_text(), flags=re.DOTALL)
    sql = next(b for b in blocks if b.startswith("-- DuckDB (series): "))
    rows = duck.execute(sql).fetchall()
    assert rows, "the join of series.csv to TMDB's series returned nothing"
    tv = small_tv(catalog)
    csv_ids = {line.split("|", 1)[0] for line in CSV_FILES[1].read_text().splitlines()[1:]}
    for tmdb_id, imdb_id, name, *_ in rows:
        served = tv.detail(tmdb_id, ("external_ids",))
        assert served["external_ids"]["imdb_id"] == imdb_id and served["name"] == name
        assert imdb_id in csv_ids


async def test_duckdb_reads_the_raw_zone_from_s3_through_httpfs(
    duck: duckdb.DuckDBPyConnection, s3_lake_url: str, aws_env: str, catalog: Catalog, gone: set[int]
) -> None:
    async with open_lake(s3_lake_url) as lake:
        await write_raw_zone(lake, catalog, gone_ids=gone)
    load_httpfs(duck, aws_env)
    register_raw_zone(duck, s3_lake_url)
    assert duck.execute("SELECT count(*) FROM tmdb_movies WHERE path LIKE 's3://%'").fetchone() == (
        len(catalog.genre_ids(WAR)) + len(catalog.genre_ids(CRIME)) - len(gone),
    )
    assert shape_problems(duck, s3_lake_url) == []
    check_every_dataset(duck, catalog, gone)
    check_analyst_answers(duck, catalog, gone)


def test_the_latest_view_takes_each_movie_from_its_newest_complete_day(
    duck: duckdb.DuckDBPyConnection, local_lake: Path, tmp_path: Path
) -> None:
    # A later incremental partition holding one changed movie, not complete yet.
    root = tmp_path / "lake"
    shutil.copytree(local_lake, root)
    later = DATE + dt.timedelta(days=1)
    first = (root / tmdb_key(Kind.MOVIES, DATE, "war", 1)).read_bytes().splitlines()[0]
    changed: dict[str, Any] = orjson.loads(first) | {"popularity": 12345.5}
    (root / tmdb_key(Kind.MOVIES, later, "war", 1)).parent.mkdir(parents=True)
    (root / tmdb_key(Kind.MOVIES, later, "war", 1)).write_bytes(orjson.dumps(changed) + b"\n")
    register_raw_zone(duck, str(root))
    versions = duck.execute(
        f"SELECT day, popularity FROM tmdb_movies WHERE id = {changed['id']} AND path LIKE '%/war-%' ORDER BY day"
    ).fetchall()
    assert [d for d, _ in versions] == ["2026/11/28", "2026/11/29"]
    latest = f"SELECT day, popularity FROM tmdb_movies_latest WHERE id = {changed['id']} AND dataset = 'war'"
    assert duck.execute(latest).fetchall() == [("2026/11/28", versions[0][1])]
    # The day completes (its removed.json, the run's last step): its version is the latest.
    plan = Plan(Kind.MOVIES, WAR, "war", later, (changed["id"],), refresh="incremental")
    key = root / removed_key(later, "war")
    key.parent.mkdir(parents=True)
    key.write_bytes(Removed((), ()).body(plan))
    assert duck.execute(latest).fetchall() == [("2026/11/29", 12345.5)]
    assert duck.execute("SELECT count(*) FROM tmdb_movies_latest WHERE dataset = 'war'").fetchone() == (
        duck.execute("SELECT count(DISTINCT id) FROM tmdb_movies WHERE path LIKE '%/war-%'").fetchone()
    )


STRAY = {
    "a collection among the movies": (Kind.MOVIES, "collection", "not columns of tmdb_movies"),
    "a movie among the collections": (Kind.COLLECTIONS, "movie", "not columns of tmdb_collections"),
    "a JSON array line": (Kind.MOVIES, b"[1, 2, 3]\n", "are not JSON objects"),
    "a line that is not JSON": (Kind.MOVIES, b"Traceback (most recent call last):\n", "Malformed JSON"),
    "a record without an id": (Kind.COLLECTIONS, b'{"name": "x", "parts": []}\n', "have no id"),
}


@pytest.mark.parametrize("case", list(STRAY))
def test_a_shape_one_table_cannot_hold_fails_the_check(
    duck: duckdb.DuckDBPyConnection, local_lake: Path, tmp_path: Path, catalog: Catalog, case: str
) -> None:
    kind, stray, says = STRAY[case]
    root = tmp_path / "lake"
    shutil.copytree(local_lake, root)
    register_raw_zone(duck, str(root))
    assert shape_problems(duck, str(root)) == []
    if stray == "collection":
        line = orjson.dumps(catalog.collection(next(iter(catalog.collections)))) + b"\n"
    elif stray == "movie":
        line = orjson.dumps(catalog.detail(next(iter(catalog.movies)), {"keywords"})) + b"\n"
    else:
        assert isinstance(stray, bytes)
        line = stray
    # Appended to a file the pipeline wrote, as a second writer or a bad edit would leave it.
    victim = root / tmdb_key(kind, DATE, "crime", 1)
    victim.write_bytes(victim.read_bytes() + line)
    problems = shape_problems(duck, str(root))
    assert problems and any(says in p for p in problems), problems
