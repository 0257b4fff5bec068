"""``python -m ingest status`` as a real process, on a lake the real pipeline wrote (a
directory, and S3 in moto's server mode): a complete date, a half-done one (files and
markers gone, as after a kill), an empty one, and bad usage. No TMDB credentials are in
the status process's environment: it reads only the lake."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.csv.stage import ingest_file
from ingest.lake import Lake
from ingest.lake.keys import Kind, csv_key, tmdb_key
from ingest.reports.commands import python
from ingest.standin import Catalog
from ingest.state import keys, open_lake
from ingest.state.markers import batches_in_lake
from ingest.state.plan import Plan, load_plan, plan_key, save_plan
from tests.helpers import clean_env, delete_from_lake, run_cli
from tests.raw_lake import CRIME, CSV_FILES, WAR, small_catalog, write_raw_zone
from tests.tmdb_fixtures import DATE


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return small_catalog()


@pytest.fixture(params=["local", "s3"])
def lake_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "lake")
    return str(request.getfixturevalue("s3_lake_url"))


async def _status(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = await run_cli("status", *args, cwd=cwd, env=env or clean_env())
    return done.returncode, done.stdout, done.stderr


async def _status_json(cwd: Path, lake_url: str, date: str = DATE.isoformat()) -> tuple[int, dict[str, Any]]:
    rc, out, err = await _status(cwd, "--lake", lake_url, "--date", date, "--json")
    assert out.count("\n") == 1, (out, err)
    return rc, orjson.loads(out)


def _rows(path: Path) -> int:
    return path.read_bytes().count(b"\n") - 1


def _expected(catalog: Catalog, genre_id: int, gone: set[int]) -> dict[str, Any]:
    ids = catalog.genre_ids(genre_id)
    fetched = ids - gone
    return {
        "movies": (len(ids), len(fetched), len(ids & gone), math.ceil(len(ids) / 100)),
        "collections": len(catalog.collection_ids(fetched)),
    }


def _by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{t['genre']} {t['kind']}": t for t in body["tmdb"]}


async def test_a_complete_date_is_exit_0_with_every_dataset_counted(
    tmp_path: Path, lake_url: str, catalog: Catalog
) -> None:
    gone = set(sorted(catalog.genre_ids(WAR))[:3])
    async with open_lake(lake_url) as lake:
        await write_raw_zone(lake, catalog, gone_ids=gone)

    rc, body = await _status_json(tmp_path, lake_url)
    assert rc == 0 and body["complete"] and not body["empty"]
    assert body["date"] == "2026-11-28"
    assert [(c["file"], c["state"], c["hash_verified"]) for c in body["csv"]] == [
        ("movies.csv", "ok", True),
        ("series.csv", "ok", True),
    ]
    for c, path in zip(body["csv"], CSV_FILES, strict=True):
        assert c["key"] == csv_key(path.name, DATE)
        assert (c["bytes"], c["rows"]) == (path.stat().st_size, _rows(path))
    tmdb = _by_name(body)
    assert list(tmdb) == [
        "crime movies",
        "crime collections",
        "crime series",
        "war movies",
        "war collections",
        "war-politics series",
    ]
    for genre, genre_id in (("war", WAR), ("crime", CRIME)):
        want = _expected(catalog, genre_id, gone)
        movies, colls = tmdb[f"{genre} movies"], tmdb[f"{genre} collections"]
        got = (movies["planned"], movies["written"], movies["not_found"], movies["batches"])
        assert got == want["movies"]
        assert movies["batches_missing"] == 0 and movies["missing_batches"] == []
        # A full run: removed counts its 404s; the cursor moved to the date once it was whole.
        removed = len(catalog.genre_ids(genre_id) & gone)
        assert (movies["refresh"], movies["removed"], movies["cursor"]) == ("full", removed, DATE.isoformat())
        assert movies["gap"] == 0 and movies["gap_reason"] is None
        assert colls["planned"] == colls["written"] == want["collections"] > 0
        assert colls["gap"] is None and colls["complete"]
    assert tmdb["war movies"]["not_found"] == 3

    rc, out, err = await _status(tmp_path, "--lake", lake_url, "--date", "2026-11-28")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == f"lake {lake_url}  date 2026-11-28"
    assert lines[-1] == "complete: everything planned for 2026-11-28 is in the lake"
    assert lines[2].split() == ["csv", "state", "bytes", "rows", "malformed", "sha256"]
    movies_csv = CSV_FILES[0]
    assert lines[3].split()[:4] == [
        "movies.csv",
        "ok",
        f"{movies_csv.stat().st_size:,}",
        f"{_rows(movies_csv):,}",
    ]
    assert lines[3].split()[-1] == "verified"
    war = next(line for line in lines if line.startswith("war movies"))
    planned, written, _, _ = _expected(catalog, WAR, gone)["movies"]
    cells = ["ok", "full", str(planned), str(written), "3", "0", "3", "0", "2026-11-28", "-"]
    assert war.split()[2:12] == cells


async def test_a_killed_date_is_exit_1_names_what_is_missing_and_clears_on_resume(
    tmp_path: Path, lake_url: str, catalog: Catalog
) -> None:
    async with open_lake(lake_url) as lake:
        await write_raw_zone(lake, catalog)
        crime_collections = await _marker(lake, Kind.COLLECTIONS, "crime", 1)
    # What a kill leaves: a batch file that never landed, a marker never written, a CSV
    # uploaded but its manifest not yet written.
    delete_from_lake(lake_url, tmdb_key(Kind.MOVIES, DATE, "war", 2))
    delete_from_lake(lake_url, crime_collections)
    delete_from_lake(lake_url, keys.csv_manifest(DATE, "series.csv"))

    rc, body = await _status_json(tmp_path, lake_url)
    assert rc == 1 and not body["complete"] and not body["empty"]
    tmdb = _by_name(body)
    assert tmdb["war movies"]["missing_batches"] == [2]
    assert tmdb["war movies"]["written"] == len(catalog.genre_ids(WAR)) - 100
    assert tmdb["crime collections"]["missing_batches"] == [1]
    assert tmdb["crime movies"]["complete"] and tmdb["war collections"]["complete"]
    assert {c["file"]: c["state"] for c in body["csv"]} == {"movies.csv": "ok", "series.csv": "no_manifest"}

    rc, out, _ = await _status(tmp_path, "--lake", lake_url, "--date", "2026-11-28")
    assert rc == 1
    assert out.splitlines()[-1] == (
        "incomplete: 2 TMDB batches and 1 CSV file not in the lake; rerun to finish it: "
        # Narrowed to what is missing: movies.csv and the series are in.
        f"{python()} -m ingest --csv {CSV_FILES[1]} --genre war --genre crime "
        f"--media movies --collections --lake {lake_url} --date 2026-11-28"
    )
    assert next(line for line in out.splitlines() if line.startswith("war movies")).split()[2] == "missing"

    # Rerunning the pipeline fills exactly those gaps, and status agrees.
    async with open_lake(lake_url) as lake:
        await write_raw_zone(lake, catalog)
    rc, body = await _status_json(tmp_path, lake_url)
    assert rc == 0 and body["complete"]


async def test_collections_asked_for_but_never_planned_keep_the_date_incomplete(
    tmp_path: Path, lake_url: str, catalog: Catalog
) -> None:
    """A run stopped after a genre's movies were all in and before it froze their
    collections left no collection plan: the date is not complete until a rerun."""
    async with open_lake(lake_url) as lake:
        await write_raw_zone(lake, catalog)
    delete_from_lake(lake_url, plan_key(DATE, Kind.COLLECTIONS, "war"))

    rc, body = await _status_json(tmp_path, lake_url)
    assert rc == 1 and not body["complete"]
    tmdb = _by_name(body)
    assert tmdb["war movies"]["complete"] and tmdb["crime collections"]["complete"]
    war = tmdb["war collections"]
    assert (war["complete"], war["planned_yet"], war["plan_id"], war["batches_missing"]) == (
        False,
        False,
        None,
        0,
    )
    assert tmdb["crime collections"]["planned_yet"] is True
    # It holds no refresh yet: only the one its run asked for, said as such.
    asked = tmdb["war movies"]["asked_refresh"]
    assert (war["refresh"], war["asked_refresh"]) == (None, asked) and asked in ("full", "incremental")

    rc, out, _ = await _status(tmp_path, "--lake", lake_url, "--date", "2026-11-28")
    assert rc == 1
    row = next(line for line in out.splitlines() if line.startswith("war collections")).split()
    assert row[2:5] == ["unplanned", "asked", asked]
    assert out.splitlines()[-1].startswith(
        f"incomplete: asked for and never planned: war collections; rerun to finish it: {python()} -m ingest "
    )

    async with open_lake(lake_url) as lake:
        await write_raw_zone(lake, catalog)
    rc, body = await _status_json(tmp_path, lake_url)
    assert rc == 0 and body["complete"] and _by_name(body)["war collections"]["planned_yet"]


async def _marker(lake: Lake, kind: Kind, genre: str, number: int) -> str:
    plan = await load_plan(lake, DATE, kind, genre)
    assert plan is not None
    return (await batches_in_lake(lake, plan, plan.batches(len(plan.ids))))[number]


async def test_a_changed_csv_object_fails_the_hash_check(tmp_path: Path, lake_url: str) -> None:
    async with open_lake(lake_url) as lake:
        await ingest_file(lake, CSV_FILES[0], DATE, progress=False)
        # Same key, other bytes, written without the pipeline's hash.
        await lake.write(csv_key("movies.csv", DATE), CSV_FILES[0].read_bytes()[:-10])
    rc, body = await _status_json(tmp_path, lake_url)
    assert rc == 1
    assert [(c["state"], c["hash_verified"]) for c in body["csv"]] == [("mismatch", False)]


async def test_an_empty_date_is_exit_1_and_the_lake_comes_from_ingest_lake(
    tmp_path: Path, lake_url: str
) -> None:
    async with open_lake(lake_url) as lake:
        await lake.write(keys.csv_manifests(DATE) + "unrelated.txt", b"x")
    rc, out, err = await _status(tmp_path, "--date", "2026-11-27", env=clean_env(INGEST_LAKE=lake_url))
    assert rc == 1, err
    assert out.splitlines() == [
        f"lake {lake_url}  date 2026-11-27",
        "",
        f"empty: nothing planned or written for 2026-11-27 in {lake_url}",
    ]
    rc, body = await _status_json(tmp_path, lake_url, "2026-11-27")
    assert rc == 1 and body["empty"] and body["csv"] == body["tmdb"] == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--date", "2026-02-30"), "--date must be a date YYYY-MM-DD"),
        (("--lake", "ftp://host/x"), "--lake must be s3://bucket[/prefix] or a local directory"),
        (("--lake", "s3://no-such-bucket-here"), "does not exist"),
        (("--verbose",), "unrecognized arguments: --verbose"),
    ],
)
async def test_bad_usage_is_exit_2_with_one_line(
    tmp_path: Path, aws_env: str, args: tuple[str, ...], says: str
) -> None:
    rc, out, err = await _status(tmp_path, *args)
    assert rc == 2
    assert out == ""
    assert len(err.splitlines()) == 1 and says in err and "Traceback" not in err


async def test_a_plan_shows_its_refresh_mode_and_discover_gap(tmp_path: Path) -> None:
    lake_url = str(tmp_path / "lake")
    reason = "12 movies have no release date and discover cannot reach them"
    plan = Plan(
        Kind.MOVIES,
        WAR,
        "war",
        DATE,
        ids=tuple(range(1, 151)),
        complete=True,
        history=({"found": 150, "gap": 12, "gap_reason": reason},),
    )
    async with open_lake(lake_url) as lake:
        await save_plan(lake, plan)
        # A field the incremental refresh adds to the plan; read when present.
        raw = orjson.loads(plan.to_json()) | {"refresh": "incremental"}
        await lake.write(plan_key(DATE, Kind.MOVIES, "war"), orjson.dumps(raw))

    rc, body = await _status_json(tmp_path, lake_url)
    (war,) = body["tmdb"]
    assert rc == 1
    assert (war["refresh"], war["gap"], war["gap_reason"]) == ("incremental", 12, reason)
    assert (war["planned"], war["written"], war["batches"], war["missing_batches"]) == (150, 0, 2, [1, 2])
    rc, out, _ = await _status(tmp_path, "--lake", lake_url, "--date", "2026-11-28")
    row = next(line for line in out.splitlines() if line.startswith("war movies"))
    assert row.split()[2:11] == ["missing", "incremental", "150", "0", "0", "2", "0", "12", "-"]
    assert row.endswith(reason)
