"""The settings table is the one owner of each setting: the dataclasses the code reads,
the command lines' flags, docs/contract.md's tables and config.toml are checked against
its rows (names, defaults, bounds), so none of them can drift from it."""

from __future__ import annotations

import argparse
import re
import tomllib
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from ingest.cli import FLAGS, build_parser
from ingest.settings.config import Settings, load_settings
from ingest.settings.table import ROWS, Setting, file_keys, flags_of, has_row, row
from ingest.status.cli import build_parser as status_parser

ROOT = Path(__file__).resolve().parent.parent
# Rows read while the settings load but not kept as a field: where the settings come
# from, and what only shapes other values (the egress share, the Lambda's token lookup).
LOAD_ONLY = {"run.config", "tmdb.egress_workers", "tmdb.token_parameter"}


def _leaves(cls: type[Any], group: str) -> dict[str, Any]:
    """Row name -> the dataclass default, for every field of ``cls`` and its groups."""
    hints = get_type_hints(cls)
    found: dict[str, Any] = {}
    for f in fields(cls):
        if is_dataclass(hints[f.name]) and not has_row(f"{group}.{f.name}"):
            found |= _leaves(hints[f.name], f.name)
        else:
            found[f"{group}.{f.name}"] = f.default_factory() if callable(f.default_factory) else f.default
    return found


def test_every_field_is_a_row_and_every_row_a_field_or_read_at_load() -> None:
    leaves = _leaves(Settings, "run")
    names = {r.name for r in ROWS}
    assert set(leaves) - names == set(), "a settings field without a row in ingest/settings/table.py"
    assert names - set(leaves) == LOAD_ONLY, "a row that lands in no settings field"
    for name, value in leaves.items():
        assert value == row(name).default_value(), f"{name}: the dataclass default is not the row's"


def test_loading_with_no_source_gives_the_dataclasses_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config.toml
    loaded = load_settings({}, env={})
    assert Settings(date=loaded.date) == loaded


@pytest.mark.parametrize(("command", "parser"), [("ingest", build_parser), ("status", status_parser)])
def test_the_flags_are_the_rows_flags(command: str, parser: Callable[[], argparse.ArgumentParser]) -> None:
    shown = {a.option_strings[0] for a in parser()._actions if a.option_strings}
    assert {row(n).flag for n in flags_of(command)} <= shown
    assert FLAGS == flags_of("ingest")
    for r in ROWS:
        assert bool(r.flag) == bool(r.cli), f"{r.name}: a flag needs its commands and back"


# docs/contract.md ---------------------------------------------------------------------

CONTRACT = (ROOT / "docs" / "contract.md").read_text()


def _shown(value: Any) -> str:
    """A default as the contract writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_the_contracts_variables_are_the_rows() -> None:
    documented = dict(re.findall(r"^\| `([A-Z_]+)` \| .* \| (.+) \|$", CONTRACT, re.M))
    for r in ROWS:
        if not r.env or r.name in {"run.config", "run.date"}:
            continue
        assert r.env in documented, f"{r.env} is missing from docs/contract.md's settings"
        said = documented[r.env].strip("`")
        if r.default is not None:
            assert said == _shown(r.default), f"{r.env}: the contract says {said}, the table {r.default}"
        else:
            assert said == "none", f"{r.env}: the contract says {said}, the table has no default"


def test_the_contracts_config_tables_are_the_rows() -> None:
    tables = dict(re.findall(r"^\| `\[(\w+)\]` \| (.+) \|$", CONTRACT, re.M))
    for section, keys in file_keys().items():
        assert section in tables, f"[{section}] is missing from docs/contract.md"
        for key, r in keys.items():
            said = re.search(rf"`{key}`(?: \(([^),]+))?", tables[section])
            assert said, f"[{section}] {key} is missing from docs/contract.md"
            if said.group(1):
                assert said.group(1).strip('`"') == _shown(r.default), f"[{section}] {key}"


def test_the_contracts_bounds_are_the_rows() -> None:
    sentence = CONTRACT[CONTRACT.index("The bounds:") :].split("\n\n")[0].replace("\n", " ")
    bounds = re.findall(r"`([-\w]+)` ([\d.,]+) to ([\d.,]+)", sentence)
    assert len(bounds) >= 6
    for name, lo, hi in bounds:
        rows = [r for r in ROWS if name in {r.flag, r.key}]
        assert rows, f"the contract bounds {name}, which no row has"
        for r in rows:
            assert _bounds(r) == (float(lo.replace(",", "")), float(hi.replace(",", ""))), r.name


def _bounds(r: Setting) -> tuple[float, float]:
    lo, hi = getattr(r.kind, "lo"), getattr(r.kind, "hi")  # noqa: B009 (kinds with bounds)
    return float(lo), float(hi)


# config.toml ----------------------------------------------------------------------------

CONFIG = (ROOT / "config.toml").read_text()
# config.toml's [job] is the main job itself, not the defaults.
# What the main job sets on purpose, unlike the built-in defaults (it takes both media).
JOB_SET = {"csv", "collections", "media"}


def test_config_toml_says_the_rows_defaults() -> None:
    table = tomllib.loads(CONFIG)
    keys = file_keys()
    for section, values in table.items():
        for key, value in values.items():
            if section == "job" and key in JOB_SET:
                continue
            r = keys[section][key]
            assert r.kind.parse(value) == r.default_value(), f"config.toml: [{section}] {key}"


def test_config_toml_says_the_rows_bounds() -> None:
    keys = file_keys()
    for section, text in re.findall(r"^\[(\w+)\]\n((?:(?!\[).*\n?)*)", CONFIG, re.M):
        known = {_bounds(r) for r in keys[section].values() if hasattr(r.kind, "lo")}
        for lo, hi in re.findall(r"([\d.,]+) to ([\d.,]+)", text):
            assert (float(lo.replace(",", "")), float(hi.replace(",", ""))) in known, (section, lo, hi)
