"""``--dry-run``: the plan a run would make, and what it would fetch, with nothing written."""

from __future__ import annotations

from pathlib import Path

from ingest.standin import Catalog, Standin
from tests.helpers import run_cli, standin_env

WAR, CRIME = 10752, 80


async def test_a_dry_run_says_what_a_run_would_fetch_and_writes_nothing(tmp_path: Path) -> None:
    catalog = Catalog.synthetic({WAR: 230, CRIME: 140}, seed=4)
    lake = tmp_path / "lake"
    async with Standin(catalog).serve() as url:
        env = standin_env(url)
        args = ("--genre", "war", "--genre", "crime", "--lake", str(lake), "--date", "2026-11-28")
        dry = await run_cli(*args, "--dry-run", cwd=tmp_path, env=env)
        assert dry.returncode == 0, dry.stderr
        assert not lake.exists()
        assert "war movies (full): 230 planned, 230 to fetch in 3 batches" in dry.stdout
        assert "crime movies (full): 140 planned, 140 to fetch in 2 batches" in dry.stdout
        assert "TMDB: 370 requests for the movies" in dry.stdout and "plan_frozen" not in dry.stderr

        # After a run of war, a dry run reads war's frozen plan: nothing left to fetch there.
        ran = await run_cli(*args[:2], *args[4:], "--rate", "1000", cwd=tmp_path, env=env)
        assert ran.returncode == 0, ran.stderr
        before = sorted(p.relative_to(lake) for p in lake.rglob("*"))
        again = await run_cli(*args, "--dry-run", cwd=tmp_path, env=env)
        assert (
            "war movies (full): 230 planned, 0 to fetch in 0 batches of up to 100 (plan already frozen"
            in again.stdout
        )
        assert "crime movies (full): 140 planned, 140 to fetch" in again.stdout
        assert sorted(p.relative_to(lake) for p in lake.rglob("*")) == before


async def test_a_dry_run_after_a_limited_run_says_the_plan_grows_with_units_and_plurals(
    tmp_path: Path,
) -> None:
    catalog = Catalog.synthetic({WAR: 130}, seed=4)
    lake = tmp_path / "lake"
    async with Standin(catalog).serve() as url:
        env = standin_env(url)
        args = ("--genre", "war", "--lake", str(lake), "--date", "2026-11-28")
        ran = await run_cli(*args, "--limit", "40", "--rate", "1000", cwd=tmp_path, env=env)
        assert ran.returncode == 0, ran.stderr
        dry = await run_cli(*args, "--dry-run", cwd=tmp_path, env=env)
        assert dry.returncode == 0, dry.stderr
        war = next(line for line in dry.stdout.splitlines() if "war movies" in line)
        assert "130 planned" in war, war
        assert "plan frozen for the date with 40 ids; the run appends 90 more it discovers" in war
        assert "already frozen" not in war
        assert "planning took" in dry.stdout and dry.stdout.rstrip().endswith(("request", "requests"))
