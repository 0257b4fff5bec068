"""Settings: one table, precedence (flag > environment > config.toml > default), load-time
checks in one message shape; and the hard edges through the real processes
(``python -m ingest``, ``python -m workers``): exit 2, one line on stderr, no traceback."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.errors import ConfigError
from ingest.settings.config import (
    DEFAULT_LAKE,
    load_settings,
)
from ingest.standin import free_port
from tests.helpers import clean_env, eventually, flags, popen_cli, run_cli

ROOT = Path(__file__).resolve().parent.parent


def toml(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_precedence_flag_then_env_then_file_then_default(tmp_path: Path) -> None:
    cfg = toml(tmp_path, '[job]\nlake = "from-file"\n[tmdb]\nrate_per_s = 12\n[service]\nport = 8081\n')
    assert load_settings(flags(config=cfg), env={}).lake == "from-file"
    assert load_settings(flags(config=cfg), env={"INGEST_LAKE": "from-env"}).lake == "from-env"
    flagged = load_settings(
        flags(config=cfg, lake="from-flag", rate_per_s=7), env={"INGEST_LAKE": "from-env"}
    )
    assert flagged.lake == "from-flag" and flagged.tmdb.rate_per_s == 7
    assert load_settings(flags(config=cfg), env={}).tmdb.rate_per_s == 12
    assert load_settings(flags(config=cfg), env={}).service.port == 8081
    assert load_settings(flags(config=cfg), env={"INGEST_PORT": "9000"}).service.port == 9000
    assert load_settings(flags(config=cfg, port="9100"), env={"INGEST_PORT": "9000"}).service.port == 9100


def test_built_in_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.toml here
    s = load_settings(flags(), env={})
    assert s.lake == DEFAULT_LAKE and s.tmdb.rate_per_s == 40 and s.tmdb.concurrency == 20
    assert [g.slug for g in s.job.genres] == ["crime", "war"] and s.job.collections


def test_selection_flags_replace_the_main_job(tmp_path: Path) -> None:
    cfg = toml(tmp_path, '[job]\ncsv = ["a.csv"]\ngenres = ["crime", "war"]\n')
    main = load_settings(flags(config=cfg), env={})
    assert main.job.csv == (Path("a.csv"),) and main.job.movies
    war = load_settings(flags(config=cfg, genres=("guerra",)), env={})
    assert war.job.csv == () and [g.slug for g in war.job.genres] == ["war"]
    franchises = load_settings(flags(config=cfg, collections=True), env={})
    assert not franchises.job.movies and franchises.job.collections
    assert [g.slug for g in franchises.job.genres] == ["crime", "war"]
    twice = load_settings(flags(config=cfg, genres=("war", "10752", "Guerra")), env={})
    assert [g.slug for g in twice.job.genres] == ["war"]


def test_secrets_come_from_the_environment_only_and_never_show(tmp_path: Path) -> None:
    s = load_settings(
        flags(config=toml(tmp_path, "")),
        env={"TMDB_READ_ACCESS_TOKEN": "tok-123456", "TMDB_BASE_URL": "http://x/3/"},
    )
    assert s.tmdb.token == "tok-123456" and s.tmdb.base_url == "http://x"
    assert "tok-123456" not in repr(s)
    with pytest.raises(ConfigError, match=r"secrets never go in config\.toml"):
        load_settings(flags(config=toml(tmp_path, '[tmdb]\napi_key = "k"\n')), env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[upload]\npart_size_mib = 4\n", "[upload] part_size_mib in {} must be a whole number between 5 and 5,120, got 4"),
        ("[upload]\nparts_in_flight = 0\n", "[upload] parts_in_flight in {} must be a whole number between 1 and 64, got 0"),
        ("[tmdb]\nconcurrency = 500\n", "[tmdb] concurrency in {} must be a whole number between 1 and 100, got 500"),
        ("[tmdb]\nconcurrency = 2.9\n", "[tmdb] concurrency in {} must be a whole number between 1 and 100, got 2.9"),
        ("[tmdb]\nrate_per_s = 0.001\n", "[tmdb] rate_per_s in {} must be a number of requests per second between 0.5 and 1,000"),
        ('[job]\ngenres = ["westerns!"]\n', "[job] genres in {} names an unknown genre 'westerns!'"),
        ('[job]\ngenres = "war"\n', "[job] genres in {} must be a list of genre names"),
        ('[job]\ncollections = "yes"\n', "[job] collections in {} must be true or false, got 'yes'"),
        ("[job]\nlake = 5\n", "[job] lake in {} must be s3://bucket[/prefix] or a local directory, got 5"),
        ('[job]\nlake = "ftp://x"\n', "[job] lake in {} must be s3://bucket[/prefix] or a local directory"),
        ('[job]\nlake = "s3://"\n', "[job] lake in {} must be s3://bucket[/prefix] or a local directory, got 's3://'"),
        ('[tmdb]\nbase_url = "http://[::1"\n', "[tmdb] base_url in {} must be an http:// or https:// URL"),
        ("[job]\nlimit = 1e30\n", "[job] limit in {} must be a whole number between 1 and 1,000,000, got 1e+30"),
        ("[tmdb]\nrate_per_sec = 10\n", "{} has an unknown key rate_per_sec in [tmdb] (did you mean rate_per_s?)"),
        ("[service]\nprot = 80\n", "{} has an unknown key prot in [service] (did you mean port?)"),
        ("[servcie]\nport = 80\n", "{} has an unknown section [servcie] (did you mean service?)"),
        ("[upload]\npart_sise_mib = 8\n", "unknown key part_sise_mib in [upload] (did you mean part_size_mib?)"),
        ('lake = "x"\n', "{} sets lake outside any section: put it under [job]"),
        ('[tmdb]\nlake = "x"\n', "{} has an unknown key lake in [tmdb] (it belongs in [job])"),
        ("[job\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_bad_values_say_what_where_and_how_to_fix(tmp_path: Path, text: str, message: str) -> None:
    path = toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(flags(config=path), env={})
    assert message.format(path) in str(caught.value)


@pytest.mark.parametrize(
    ("said", "env", "message"),
    [
        (flags(concurrency="2.9"), {}, "--concurrency must be a whole number between 1 and 100, got '2.9'"),
        (flags(port="80808.7"), {}, "--port must be a whole number between 1 and 65,535"),
        (flags(), {"INGEST_PORT": "99999"}, "INGEST_PORT must be a whole number between 1 and 65,535"),
        (flags(), {"INGEST_LAMBDA_RESERVE_S": "soon"}, "INGEST_LAMBDA_RESERVE_S must be a number of seconds"),
        (flags(), {"INGEST_LAKE": ""}, "INGEST_LAKE must be s3://bucket[/prefix] or a local directory, got an empty value"),
        (flags(), {"INGEST_LOG_LEVEL": "loud"}, "INGEST_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR"),
        (flags(rate_per_s="nan"), {}, "--rate must be a number of requests per second"),
        (flags(date="2026-02-30"), {}, "--date must be a date YYYY-MM-DD between 1900-01-01 and"),
        (flags(genres=("²",)), {}, "--genre names an unknown genre '²'"),
        (flags(genres=(True,)), {}, "--genre names an unknown genre True"),
    ],
)  # fmt: skip
def test_flags_and_variables_are_checked_by_the_same_rows(
    tmp_path: Path, said: dict[str, Any], env: dict[str, str], message: str
) -> None:
    cfg = toml(tmp_path, "")
    with pytest.raises(ConfigError) as caught:
        load_settings({**said, "run.config": cfg}, env=env)
    assert message in str(caught.value)


def test_the_date_is_bounded_to_what_a_partition_can_mean(tmp_path: Path) -> None:
    cfg = toml(tmp_path, "")
    today = dt.datetime.now(dt.UTC).date()
    assert load_settings(flags(config=cfg, date="1900-01-01"), env={}).date == dt.date(1900, 1, 1)
    assert load_settings(flags(config=cfg, date=str(today + dt.timedelta(days=30))), env={}).date > today
    for text in ("0001-01-01", "9999-12-31", "1899-12-31"):
        with pytest.raises(ConfigError, match=r"between 1900-01-01 and .*a year from today"):
            load_settings(flags(config=cfg, date=text), env={})


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(flags(config=tmp_path / "absent.toml"), env={})


def test_the_lambda_reserve_comes_from_the_environment_over_the_file(tmp_path: Path) -> None:
    cfg = toml(tmp_path, "[lambda]\nreserve_s = 30\n")
    assert load_settings(flags(config=cfg), env={}).lambda_reserve_s == 30
    assert load_settings(flags(config=cfg), env={"INGEST_LAMBDA_RESERVE_S": "4.5"}).lambda_reserve_s == 4.5


# The real processes ---------------------------------------------------------------------


def run(
    tmp_path: Path, *args: str, module: str = "ingest", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return asyncio.run(run_cli(*args, cwd=tmp_path, module=module, env=clean_env(**(env or {}))))


def refused(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The one line a refused command printed."""
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


TOKEN = {"TMDB_READ_ACCESS_TOKEN": "a-token-for-the-edges"}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--lake", ""], {}, "ingest: --lake must be s3://bucket[/prefix] or a local directory, got an empty value"),
        (["--date", ""], {}, "ingest: --date must be a date YYYY-MM-DD"),
        (["--genre", "war"], {"INGEST_LAKE": ""}, "ingest: INGEST_LAKE must be"),
        (["--rate", "0.001"], {}, "ingest: --rate must be a number of requests per second between 0.5 and 1,000, got '0.001'"),
        (["--date", "0001-01-01"], {}, "ingest: --date must be a date YYYY-MM-DD between 1900-01-01 and"),
        (["--date", "9999-12-31"], {}, "(a year from today), got '9999-12-31'"),
        (["--limit", "2.5"], {}, "ingest: --limit must be a whole number between 1 and 1,000,000, got '2.5'"),
        (["--concurrency", "0"], {}, "ingest: --concurrency must be a whole number between 1 and 100"),
        (["--csv", ""], {}, "ingest: --csv must be a file path such as data/movies.csv, got an empty value"),
        (["--genre", "war"], {"INGEST_CONFIG": ""}, "ingest: INGEST_CONFIG must be a path to a file, got an empty value"),
    ],
)  # fmt: skip
def test_bad_flags_are_exit_2_with_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    assert message in refused(run(tmp_path, *args, env=TOKEN | env))


@pytest.mark.parametrize(
    ("config", "args", "env", "message"),
    [
        ("[service]\nport = 99999\n", [], {}, "[service] port in config.toml must be a whole number between 1 and 65,535, got 99999"),
        ("[service]\nport = 8080.7\n", [], {}, "got 8080.7"),
        ("", ["--port", "99999"], {}, "--port must be a whole number between 1 and 65,535, got '99999'"),
        ("", [], {"INGEST_PORT": "http"}, "INGEST_PORT must be a whole number between 1 and 65,535, got 'http'"),
        ("[servcie]\nport = 80\n", [], {}, "unknown section [servcie] (did you mean service?)"),
    ],
)  # fmt: skip
def test_the_services_port_is_checked_before_it_starts(
    tmp_path: Path, config: str, args: list[str], env: dict[str, str], message: str
) -> None:
    toml(tmp_path, config)
    line = refused(run(tmp_path, *args, module="workers", env=TOKEN | env))
    assert line.startswith("python -m workers: ") and message in line


def test_a_config_file_that_is_not_utf8_is_exit_2(tmp_path: Path) -> None:
    toml(tmp_path, '[job]\nlake = "caf\xe9"\n'.encode("latin-1"))
    line = refused(run(tmp_path, "--genre", "war", env=TOKEN))
    assert "config.toml is not UTF-8 text" in line and "save it as UTF-8" in line


@pytest.mark.parametrize("name", ["TMDB_READ_ACCESS_TOKEN", "TMDB_API_KEY"])
def test_a_credential_with_a_control_character_is_exit_2_and_never_printed(tmp_path: Path, name: str) -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9-part-one\npart-two"
    line = refused(run(tmp_path, "--genre", "war", env={name: secret}))
    assert line.startswith(f"ingest: {name} must be the token or key alone, on one line")
    assert "part-one" not in line and "part-two" not in line


def test_userinfo_in_the_base_url_is_never_printed(tmp_path: Path) -> None:
    key = "k3y-inside-the-url-0123456789"
    line = refused(run(tmp_path, "--genre", "war", env=TOKEN | {"TMDB_BASE_URL": f"ftp://user:{key}@host"}))
    assert "TMDB_BASE_URL must be an http:// or https:// URL" in line
    assert key not in line and "user:" not in line

    # A failure that names the URL: the exit line goes through the same masking as logs.
    toml(tmp_path, "[tmdb]\nmax_attempts = 1\nconnect_timeout_s = 1\n")
    result = run(
        tmp_path,
        "--genre",
        "war",
        "--limit",
        "1",
        "--lake",
        str(tmp_path / "lake"),
        env=TOKEN | {"TMDB_BASE_URL": f"http://user:{key}@127.0.0.1:9"},
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert key not in result.stdout + result.stderr


def test_no_credentials_says_how_to_try_the_stand_in(tmp_path: Path) -> None:
    line = refused(run(tmp_path, "--genre", "war"))
    assert "TMDB_READ_ACCESS_TOKEN" in line and "python3 dev.py run" in line


def test_the_summary_reports_throughput_only_over_uploaded_files(tmp_path: Path) -> None:
    (tmp_path / "movies.csv").write_text("id,title\n1,Heat\n")
    args = ("--csv", "movies.csv", "--lake", str(tmp_path / "lake"), "--date", "2026-11-20")

    def summary() -> dict[str, object]:
        result = run(tmp_path, *args)
        assert result.returncode == 0, result.stderr[-2000:]
        lines = [orjson.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
        found: dict[str, object] = next(x for x in lines if x["event"] == "run_completed")
        return found

    first = summary()
    assert first["csv_files_skipped"] == 0 and first["csv_bytes"] == 16
    again = summary()
    assert again["csv_files_skipped"] == 1 and again["csv_bytes"] == 0 and again["csv_mb_per_s"] is None


def test_the_service_listens_on_the_port_flag_over_the_file(tmp_path: Path) -> None:
    flag_port, file_port = free_port(), free_port()
    toml(tmp_path, f'[service]\nhost = "127.0.0.1"\nport = {file_port}\n')
    proc = popen_cli("--port", str(flag_port), module="workers", cwd=tmp_path, env=clean_env(**TOKEN))

    def healthy() -> bool:
        assert proc.poll() is None, "the service exited"
        with urllib.request.urlopen(f"http://127.0.0.1:{flag_port}/healthz", timeout=5) as resp:
            return bool(resp.status == 200)

    try:
        assert asyncio.run(eventually(healthy, "the service on the --port given"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


@pytest.mark.parametrize("module", ["ingest", "workers"])
def test_the_main_job_without_a_config_file_or_a_selection_is_exit_2(tmp_path: Path, module: str) -> None:
    """Run from a directory without config.toml, the built-in defaults would silently drop
    stage 1 and call the day complete: refused, naming the ways out."""
    env = clean_env(**TOKEN, INGEST_LAKE=str(tmp_path / "lake"))
    done = asyncio.run(run_cli(cwd=tmp_path, env=env, module=module))
    line = refused(done)
    assert f"no config.toml in {tmp_path} and no selection flag" in line
    assert "--config (or INGEST_CONFIG)" in line and "--csv PATH" in line
    assert not (tmp_path / "lake").exists()


def test_a_selection_without_a_config_file_runs_what_it_names(tmp_path: Path) -> None:
    csv = tmp_path / "movies.csv"
    csv.write_text("id,title\n1,Heat\n")
    done = asyncio.run(
        run_cli("--csv", str(csv), "--lake", str(tmp_path / "lake"), cwd=tmp_path, env=clean_env())
    )
    assert done.returncode == 0, done.stderr
