"""The targets of RESULTS.md: each section adds its rows (what, the figure, met or not).

A section's renderer takes ``add`` (one line of Markdown) and ``targets`` (the rows it
judged); ``table`` renders the rows as the closing "Targets" table.
"""

from __future__ import annotations

from collections.abc import Callable

MIB = 2**20

Target = tuple[str, str, bool | None]
Add = Callable[[str], None]


def _ok(flag: bool | None) -> str:
    return "n/a" if flag is None else ("met" if flag else "**missed**")


def table(add: Add, targets: list[Target]) -> None:
    add("\n## Targets\n")
    add("| target | figure | |")
    add("| --- | --- | --- |")
    for t, fig, ok in targets:
        add(f"| {t} | {fig} | {_ok(ok)} |")
