"""The Glue tables of template.yaml, read for the tests: their prefixes, columns and
properties, and their column types spelled for DuckDB. The template is the one owner of
the Raw zone's table schema; the DuckDB tests read the lake through it, so a schema that
does not fit what the pipeline writes fails there."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) kept as {tag: value}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


@dataclass(frozen=True, slots=True)
class GlueTable:
    name: str
    # The table's folder in the lake, relative to the bucket: "Raw/TMDB/JSON/Movies".
    prefix: str
    columns: tuple[tuple[str, str], ...]
    parameters: dict[str, Any]
    serde: dict[str, Any]
    partition_keys: tuple[tuple[str, str], ...]

    def duckdb_columns(self) -> dict[str, str]:
        return {name: hive_to_duckdb(kind) for name, kind in self.columns}


def load_template() -> dict[str, Any]:
    with TEMPLATE.open() as fh:
        return dict(yaml.load(fh, Loader=_CfnLoader))


def glue_tables() -> dict[str, GlueTable]:
    tables = {}
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::Glue::Table":
            continue
        t = resource["Properties"]["TableInput"]
        sd = t["StorageDescriptor"]
        location = sd["Location"]["Sub"]
        prefix = location.removeprefix("s3://${LakeBucket}/").rstrip("/")
        tables[t["Name"]] = GlueTable(
            name=t["Name"],
            prefix=prefix,
            columns=tuple((c["Name"], c["Type"]) for c in sd["Columns"]),
            parameters=t["Parameters"],
            serde=sd["SerdeInfo"],
            partition_keys=tuple((k["Name"], k["Type"]) for k in t["PartitionKeys"]),
        )
    return tables


_SCALARS = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
}


def hive_to_duckdb(kind: str) -> str:
    """``array<struct<id:int,name:string>>`` -> ``STRUCT("id" INTEGER, "name" VARCHAR)[]``."""
    text, rest = _parse(kind.replace(" ", ""))
    assert rest == "", f"trailing {rest!r} in {kind!r}"
    return text


def _parse(s: str) -> tuple[str, str]:
    if s.startswith("array<"):
        inner, rest = _parse(s[len("array<") :])
        return f"{inner}[]", _close(rest)
    if s.startswith("struct<"):
        rest = s[len("struct<") :]
        fields = []
        while True:
            name, _, rest = rest.partition(":")
            kind, rest = _parse(rest)
            fields.append(f'"{name}" {kind}')
            if rest.startswith(","):
                rest = rest[1:]
                continue
            return f"STRUCT({', '.join(fields)})", _close(rest)
    m = re.match(r"[a-z]+", s)
    assert m, f"cannot read type at {s!r}"
    return _SCALARS[m.group(0)], s[m.end() :]


def _close(rest: str) -> str:
    assert rest.startswith(">"), f"expected '>' at {rest!r}"
    return rest[1:]
