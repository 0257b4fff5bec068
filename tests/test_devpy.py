"""``dev.py run`` starts the TMDB stand-in only for commands that reach TMDB."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        ([], True),
        (["--genre", "war"], True),
        (["--csv", "data/movies.csv", "--collections"], True),
        (["--csv", "data/movies.csv"], False),
        (["--help"], False),
        (["--genre", "war", "-h"], False),
        (["status", "--date", "2026-11-28"], False),
    ],
)
def test_run_starts_the_standin_only_for_tmdb(args: list[str], wanted: bool) -> None:
    assert _dev()._wants_tmdb(args) is wanted
