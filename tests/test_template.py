"""template.yaml's Glue tables agree with what the pipeline writes: one table per Raw
dataset over its own prefix, day partitions projected from the key layout, the CSV
headers' columns, and every top-level field of the TMDB responses the stand-in serves.
(cfn-lint checks the template's CloudFormation; this checks its meaning.)"""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.csv.scan import KNOWN_HEADERS
from ingest.lake.keys import Kind, csv_key, tmdb_prefix
from ingest.standin import Catalog, TvCatalog
from tests.glue_tables import GlueTable, glue_tables, hive_to_duckdb, load_template

DAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def tables() -> dict[str, GlueTable]:
    return glue_tables()


def test_one_table_per_raw_dataset_over_its_own_prefix(tables: dict[str, GlueTable]) -> None:
    assert {name: t.prefix for name, t in tables.items()} == {
        "movies_csv": csv_key("movies.csv", DAY).rsplit("/", 4)[0],
        "series_csv": csv_key("series.csv", DAY).rsplit("/", 4)[0],
        "tmdb_movies": tmdb_prefix(Kind.MOVIES, DAY).rsplit("/", 4)[0],
        "tmdb_collections": tmdb_prefix(Kind.COLLECTIONS, DAY).rsplit("/", 4)[0],
        "tmdb_series": tmdb_prefix(Kind.SERIES, DAY).rsplit("/", 4)[0],
    }


def test_day_partitions_are_projected_from_the_key_layout(tables: dict[str, GlueTable]) -> None:
    for t in tables.values():
        p = t.parameters
        assert t.partition_keys == (("day", "string"),)
        assert (p["projection.enabled"], p["projection.day.type"]) == ("true", "date")
        assert p["projection.day.format"] == "yyyy/MM/dd"
        assert p["projection.day.range"].endswith(",NOW")
        template = p["storage.location.template"]["Sub"]
        assert template == f"s3://${{LakeBucket}}/{t.prefix}/${{!day}}/"


def test_csv_tables_read_the_pipe_files_as_given(tables: dict[str, GlueTable]) -> None:
    for kind in ("movies", "series"):
        t = tables[f"{kind}_csv"]
        assert [name for name, _ in t.columns] == [h.lower() for h in KNOWN_HEADERS[kind]]
        assert t.serde["Parameters"]["field.delim"] == "|"
        assert t.serde["Parameters"]["serialization.null.format"] == "\\N"
        assert t.parameters["skip.header.line.count"] == "1"


def test_json_tables_hold_every_field_tmdb_sends(tables: dict[str, GlueTable]) -> None:
    catalog = Catalog.synthetic({80: 40, 10752: 40}, seed=2)
    movie = next(m for m in catalog.movies.values() if m.collection_id)
    detail = catalog.detail(movie.id, {"keywords"})
    collection = catalog.collection(next(iter(catalog.collections)))
    movies, collections = tables["tmdb_movies"], tables["tmdb_collections"]
    assert [name for name, _ in movies.columns] == list(detail)
    assert [name for name, _ in collections.columns] == list(collection)
    assert dict(movies.columns)["keywords"] == "struct<keywords:array<struct<id:int,name:string>>>"
    part_fields = hive_to_duckdb(dict(collections.columns)["parts"])
    assert all(f'"{key}"' in part_fields for key in collection["parts"][0])
    # A series with the sub-resources it is fetched with by default.
    tv = TvCatalog.synthetic({80: 20}, seed=2)
    series = tables["tmdb_series"]
    assert [name for name, _ in series.columns] == list(
        tv.detail(next(iter(tv.series)), ("keywords", "external_ids"))
    )
    assert dict(series.columns)["keywords"] == "struct<results:array<struct<id:int,name:string>>>"
    for t in (movies, collections, series):
        assert t.serde["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
        assert t.serde["Parameters"]["ignore.malformed.json"] == "false"


def test_killed_uploads_and_replaced_versions_expire() -> None:
    bucket = load_template()["Resources"]["LakeBucket"]["Properties"]
    rules = bucket["LifecycleConfiguration"]["Rules"]
    aborts = [r for r in rules if "AbortIncompleteMultipartUpload" in r and r["Status"] == "Enabled"]
    assert [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in aborts] == [2]
    # The bucket is versioned: replaced versions must not be kept (and billed) forever.
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    expiring = [r for r in rules if "NoncurrentVersionExpiration" in r and r["Status"] == "Enabled"]
    assert [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in expiring] == [30]
