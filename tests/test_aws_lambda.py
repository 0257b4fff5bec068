"""The Lambda handler: events (new and the seed's), and chains of invocations whose clock
runs out, against the fake TMDB (a real HTTP server in its own process) and a real S3
endpoint (moto's server). Nothing is mocked but Lambda's context object.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from ingest.aws_lambda import _token_cache, handler
from ingest.errors import ConfigError
from ingest.run.lambda_event import plan_from_event
from ingest.standin import STANDIN_TOKEN, Catalog, standin_process
from ingest.standin.__main__ import catalog_for, parse_args, tv_catalog_for
from tests.helpers import LambdaContext

ROOT = Path(__file__).resolve().parent.parent
WAR, CRIME = 10752, 80
SIZES = {CRIME: 120, WAR: 350}
# As many War & Politics series as War movies: a chain of several invocations for either.
TV = ("--tv-war-politics", "350")
DATE = "2026-11-20"


@pytest.fixture(scope="module")
def tmdb_url() -> Iterator[str]:
    """The fake TMDB in its own process, with latency, as the CLI form serves it."""
    args = ("--crime", str(SIZES[CRIME]), "--war", str(SIZES[WAR]), *TV, "--latency-ms", "20", "--seed", "1")
    with standin_process(*args) as standin:
        yield standin.url


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    # The same catalog `python -m ingest.standin --crime 120 --war 350 --seed 1` builds.
    return Catalog.synthetic(SIZES, seed=1)


@pytest.fixture
def lambda_env(tmdb_url: str, s3_lake_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The function's environment: config.toml as shipped in the zip (cwd), S3 lake, token."""
    (tmp_path / "config.toml").write_text(
        '[job]\ngenres = ["war"]\ncollections = true\n'
        "[tmdb]\nrate_per_s = 100\nconcurrency = 10\n"
        "[lambda]\nreserve_s = 60\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INGEST_LAKE", s3_lake_url)
    monkeypatch.setenv("TMDB_BASE_URL", tmdb_url)
    monkeypatch.setenv("TMDB_READ_ACCESS_TOKEN", STANDIN_TOKEN)
    for name in ("INGEST_CONFIG", "TMDB_API_KEY", "TMDB_TOKEN_PARAMETER"):
        monkeypatch.delenv(name, raising=False)
    # A 6 s invocation stops starting batches with 3 s left: about three batches each.
    monkeypatch.setenv("INGEST_LAMBDA_RESERVE_S", "3")
    return s3_lake_url


def _records(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", ())]
    for key in sorted(keys):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        out += [orjson.loads(line) for line in body.splitlines()]
    return out


def _chain(event: dict[str, Any], budget_s: float) -> list[tuple[dict[str, Any], float]]:
    """Invoke as the state machine does: again with "continue" until "done"."""
    answers = []
    for _ in range(10):
        context = LambdaContext(budget_s)
        answer = handler(event, context)
        answers.append((answer, context.deadline - time.monotonic()))
        if answer["status"] == "done":
            return answers
        event = answer["continue"]
    raise AssertionError(f"no 'done' after 10 invocations: {answers[-1][0]}")


def test_a_chain_of_invocations_writes_every_movie_exactly_once(
    lambda_env: str, s3: Any, bucket: str, catalog: Catalog
) -> None:
    answers = _chain({"date": DATE}, budget_s=6.0)

    assert len(answers) >= 2
    for answer, _ in answers[:-1]:
        assert answer["status"] == "partial"
        assert answer["continue"] == {
            "genres": ["war"],
            "movies": True,
            "collections": True,
            "date": DATE,
            "limit": None,
            "refresh": "incremental",
        }
    # Every invocation answered before its deadline.
    assert all(left_s > 0 for _, left_s in answers), [round(s, 2) for _, s in answers]
    assert answers[-1][0]["status"] == "done"
    assert "continue" not in answers[-1][0]

    movies = _records(s3, bucket, "Raw/TMDB/JSON/Movies/2026/11/20/")
    ids = [m["id"] for m in movies]
    assert len(ids) == len(set(ids))
    assert set(ids) == catalog.genre_ids(WAR)
    assert all("keywords" in m for m in movies)
    collections = [c["id"] for c in _records(s3, bucket, "Raw/TMDB/JSON/Collections/2026/11/20/")]
    assert len(collections) == len(set(collections))
    assert set(collections) == catalog.collection_ids(catalog.genre_ids(WAR))
    summaries = [a["summary"] for a, _ in answers]
    assert sum(s["movies_written"] for s in summaries) == len(ids)


def test_the_seeds_tipo_events(lambda_env: str, s3: Any, bucket: str, catalog: Catalog) -> None:
    answer = handler({"tipo": "guerra", "date": DATE, "limit": 30}, LambdaContext(30))
    assert answer["status"] == "done"
    assert answer["summary"]["genres"] == ["war"] and answer["summary"]["collections"] is False
    war = _records(s3, bucket, "Raw/TMDB/JSON/Movies/2026/11/20/war-")
    assert len(war) == 30 and {m["id"] for m in war} <= catalog.genre_ids(WAR)

    answer = handler({"tipo": "crime", "date": DATE, "limit": 30}, LambdaContext(30))
    assert answer["status"] == "done"
    assert len(_records(s3, bucket, "Raw/TMDB/JSON/Movies/2026/11/20/crime-")) == 30

    answer = handler({"tipo": "franquias", "date": DATE, "limit": 30}, LambdaContext(30))
    assert answer["status"] == "done"
    assert answer["summary"]["genres"] == ["crime", "war"]
    assert answer["summary"]["movies"] is False and answer["summary"]["collections"] is True
    for slug, genre in (("crime", CRIME), ("war", WAR)):
        top = {m["id"] for m in _records(s3, bucket, f"Raw/TMDB/JSON/Movies/2026/11/20/{slug}-")}
        got = {c["id"] for c in _records(s3, bucket, f"Raw/TMDB/JSON/Collections/2026/11/20/{slug}-")}
        assert got == catalog.collection_ids(top) and top <= catalog.genre_ids(genre)


def test_the_token_comes_from_ssm_when_the_environment_has_none(
    lambda_env: str, s3: Any, bucket: str, aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssm = boto3.client("ssm", endpoint_url=aws_env, region_name="us-east-1")
    name = f"/movies-lake/test-{bucket}"
    ssm.put_parameter(Name=name, Value=STANDIN_TOKEN, Type="SecureString")
    monkeypatch.delenv("TMDB_READ_ACCESS_TOKEN")
    monkeypatch.setenv("TMDB_TOKEN_PARAMETER", name)
    _token_cache.clear()
    answer = handler({"genres": ["war"], "collections": False, "limit": 5, "date": DATE}, LambdaContext(30))
    assert answer["status"] == "done"
    assert len(_records(s3, bucket, "Raw/TMDB/JSON/Movies/")) == 5

    monkeypatch.setenv("TMDB_TOKEN_PARAMETER", name + "-missing")
    with pytest.raises(ConfigError, match="cannot read the TMDB token from SSM parameter"):
        handler({"tipo": "guerra", "limit": 5}, LambdaContext(30))


def test_a_token_from_ssm_is_checked_by_the_same_row_and_never_shown(
    lambda_env: str, aws_env: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssm = boto3.client("ssm", endpoint_url=aws_env, region_name="us-east-1")
    name = f"/movies-lake/broken-{bucket}"
    ssm.put_parameter(Name=name, Value="first-half-of-it\nsecond-half", Type="SecureString")
    monkeypatch.delenv("TMDB_READ_ACCESS_TOKEN")
    monkeypatch.setenv("TMDB_TOKEN_PARAMETER", name)
    _token_cache.clear()
    with pytest.raises(ConfigError) as caught:
        handler({"tipo": "guerra", "limit": 5}, LambdaContext(30))
    assert "must be the token or key alone, on one line" in str(caught.value)
    assert "half" not in str(caught.value)


def test_an_invocation_shorter_than_the_reserve_is_refused(lambda_env: str) -> None:
    with pytest.raises(ConfigError, match="reserved"):
        handler({}, LambdaContext(2.0))


# Events, resolved against the configuration (no network) ----------------------------------

CONFIG = '[job]\ngenres = ["crime", "war"]\ncollections = true\nlimit = 500\n'


@pytest.fixture
def config_env(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return {"INGEST_CONFIG": str(path), "TMDB_READ_ACCESS_TOKEN": "t0ken-for-tests"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({}, (["crime", "war"], True, True, 500)),
        (None, (["crime", "war"], True, True, 500)),
        ({"genres": ["War", 80], "limit": None}, (["war", "crime"], True, True, None)),
        ({"genres": ["guerra"], "collections": False}, (["war"], True, False, 500)),
        ({"tipo": "guerra"}, (["war"], True, False, 500)),
        ({"tipo": "crime", "limit": 7}, (["crime"], True, False, 7)),
        ({"tipo": "FRANQUIAS"}, (["crime", "war"], False, True, 500)),
    ],
)
def test_events_resolve_against_the_configuration(
    event: Any, expected: tuple[list[str], bool, bool, int | None], config_env: dict[str, str]
) -> None:
    settings, plan = plan_from_event(event, config_env)
    e = plan.as_event()
    assert (e["genres"], e["movies"], e["collections"], e["limit"]) == expected
    assert settings.job.csv == ()
    assert plan.date == dt.datetime.now(dt.UTC).date()
    # "continue" resolves to the very same plan, even after midnight.
    assert plan_from_event(e, config_env)[1] == plan


def test_a_scheduled_event_runs_the_configured_job_for_its_day(config_env: dict[str, str]) -> None:
    event = {
        "source": "aws.events",
        "detail-type": "Scheduled Event",
        "time": "2026-11-27T03:00:00Z",
        "detail": {},
    }
    _, plan = plan_from_event(event, config_env)
    assert plan.date == dt.date(2026, 11, 27) and [g.slug for g in plan.genres] == ["crime", "war"]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"tipo": "comedia"}, "unknown tipo 'comedia'"),
        ({"tipo": "guerra", "genres": ["war"]}, "sets tipo and genres"),
        ({"genre": ["war"]}, "unknown event key(s) 'genre' (did you mean genres?)"),
        ({"genres": "war"}, '"genres" in the event must be a list of genre names or TMDB ids'),
        ({"genres": []}, "no genres"),
        ({"genres": ["musical"]}, "\"genres\" in the event names an unknown genre 'musical'"),
        ({"genres": ["²"]}, "unknown genre '²'"),
        ({"limit": 0}, '"limit" in the event must be a whole number between 1 and 1,000,000, got 0'),
        ({"limit": 2.5}, '"limit" in the event must be a whole number'),
        ({"limit": 10**23}, '"limit" in the event must be a whole number'),
        ({"date": "28/11/2026"}, '"date" in the event must be a date YYYY-MM-DD between 1900-01-01'),
        ({"date": "0001-01-01"}, "a year from today"),
        ({"collections": "yes"}, '"collections" in the event must be true or false'),
        ({"movies": 1}, '"movies" in the event must be true or false'),
        ({"movies": False, "collections": False}, "neither movies nor collections"),
        (["war"], "must be a JSON object"),
    ],
)
def test_bad_events_raise_a_config_error_that_says_what_to_fix(
    event: Any, message: str, config_env: dict[str, str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        plan_from_event(event, config_env)
    assert message in str(caught.value)


def test_a_chain_of_series_invocations_writes_every_series_exactly_once(
    lambda_env: str, s3: Any, bucket: str
) -> None:
    # The TV catalogue the stand-in process serves (its default TV sizes, the same seed).
    args = parse_args(["--crime", str(SIZES[CRIME]), "--war", str(SIZES[WAR]), *TV, "--seed", "1"])
    tv = tv_catalog_for(args, catalog_for(args), None)
    answers = _chain({"date": "2026-11-21", "genres": ["war"], "media": ["series"]}, budget_s=6.0)
    assert len(answers) >= 2
    assert all(a["continue"]["media"] == ["series"] for a, _ in answers[:-1])
    series = _records(s3, bucket, "Raw/TMDB/JSON/Series/2026/11/21/war-politics-")
    ids = [r["id"] for r in series]
    assert len(ids) == len(set(ids)) and set(ids) == tv.genre_ids(10768)
    assert all("external_ids" in r and "results" in r["keywords"] for r in series)
    assert not _records(s3, bucket, "Raw/TMDB/JSON/Movies/2026/11/21/")
