"""The Markdown page of the answers: each question's chart, then its numbers as a table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ingest.answers.queries import Question

_INTRO = """# The analyst questions, answered

Made by `python -m ingest.answers` from {lake_days}. Each chart is drawn from the rows its
DuckDB query returned (the queries, and their Athena spelling, are in
[docs/queries.md](../queries.md)); the table under it holds the same rows. The
definitions the queries read (the wars and their years, the keywords that name a crime or
a theme, the minimum votes for a score and films for a sample) are the CSV files of
`ingest/answers/definitions/`.
"""


def render(answered: Sequence[tuple[Question, Sequence[tuple[Any, ...]]]], days: tuple[Any, ...]) -> str:
    first, last = days
    span = f"the lake's day {first}" if first == last else f"the lake's days {first} to {last}"
    parts = [_INTRO.format(lake_days=span)]
    for question, rows in answered:
        parts.append(f"## {question.title}\n\n![{question.title}]({question.slug}.png)\n")
        parts.append(_table(question.columns, rows))
    return "\n".join(parts)


def _table(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace("|", "\\|")
