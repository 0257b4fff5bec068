"""Settings: precedence (flag > environment > config.toml > default) and load-time checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.config import DEFAULT_LAKE, Overrides, load_settings
from ingest.errors import ConfigError


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_precedence_flag_then_env_then_file_then_default(tmp_path):
    cfg = toml(tmp_path, '[job]\nlake = "from-file"\n[tmdb]\nrate_per_s = 12\n')
    assert load_settings(Overrides(config=cfg), env={}).lake == "from-file"
    assert load_settings(Overrides(config=cfg), env={"INGEST_LAKE": "from-env"}).lake == "from-env"
    flagged = load_settings(
        Overrides(config=cfg, lake="from-flag", rate_per_s=7), env={"INGEST_LAKE": "from-env"}
    )
    assert flagged.lake == "from-flag" and flagged.tmdb.rate_per_s == 7
    assert load_settings(Overrides(config=cfg), env={}).tmdb.rate_per_s == 12


def test_built_in_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./config.toml here
    s = load_settings(Overrides(), env={})
    assert s.lake == DEFAULT_LAKE and s.tmdb.rate_per_s == 40 and s.tmdb.concurrency == 20
    assert [g.slug for g in s.job.genres] == ["crime", "war"] and s.job.collections


def test_selection_flags_replace_the_main_job(tmp_path):
    cfg = toml(tmp_path, '[job]\ncsv = ["a.csv"]\ngenres = ["crime", "war"]\n')
    main = load_settings(Overrides(config=cfg), env={})
    assert main.job.csv == (Path("a.csv"),) and main.job.movies
    war = load_settings(Overrides(config=cfg, genres=("guerra",)), env={})
    assert war.job.csv == () and [g.slug for g in war.job.genres] == ["war"]
    franchises = load_settings(Overrides(config=cfg, collections=True), env={})
    assert not franchises.job.movies and franchises.job.collections
    assert [g.slug for g in franchises.job.genres] == ["crime", "war"]


def test_secrets_come_from_the_environment_only_and_never_show(tmp_path):
    s = load_settings(
        Overrides(config=toml(tmp_path, "")),
        env={"TMDB_READ_ACCESS_TOKEN": "tok-123456", "TMDB_BASE_URL": "http://x/3/"},
    )
    assert s.tmdb.token == "tok-123456" and s.tmdb.base_url == "http://x"
    assert "tok-123456" not in repr(s)
    with pytest.raises(ConfigError, match=r"secrets never go in config\.toml"):
        load_settings(Overrides(config=toml(tmp_path, '[tmdb]\napi_key = "k"\n')), env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[upload]\npart_size_mib = 4\n", "part_size_mib must be between 5 and 5120"),
        ("[upload]\nparts_in_flight = 0\n", "parts_in_flight must be between 1 and 64"),
        ("[tmdb]\nconcurrency = 500\n", "concurrency must be between 1 and 100"),
        ('[job]\ngenres = ["westerns!"]\n', "unknown genre"),
        ('[job]\ncollections = "yes"\n', "collections must be true or false"),
        ("[job\n", "not valid TOML"),
    ],
)
def test_bad_values_say_how_to_fix_them(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(Overrides(config=toml(tmp_path, text)), env={})


def test_a_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(Overrides(config=tmp_path / "absent.toml"), env={})


def test_the_lambda_reserve_comes_from_the_environment_over_the_file(tmp_path):
    cfg = toml(tmp_path, "[lambda]\nreserve_s = 30\n")
    assert load_settings(Overrides(config=cfg), env={}).lambda_reserve_s == 30
    assert (
        load_settings(Overrides(config=cfg), env={"INGEST_LAMBDA_RESERVE_S": "4.5"}).lambda_reserve_s == 4.5
    )
    with pytest.raises(ConfigError, match="INGEST_LAMBDA_RESERVE_S must be a number of seconds"):
        load_settings(Overrides(config=cfg), env={"INGEST_LAMBDA_RESERVE_S": "soon"})
