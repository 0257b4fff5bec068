"""The answers as pictures: docs/queries.md shows the DuckDB SQL that ``python -m
ingest.answers`` runs, and each chart shows exactly the numbers that SQL returns on a
lake the pipeline wrote from the stand-in (read back off the drawn figure).
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ingest.answers import charts, queries
from ingest.state import open_lake
from tests.helpers import run_cli
from tests.raw_lake import small_catalog, write_raw_zone

ROOT = Path(__file__).resolve().parents[1]
QUERIES_MD = ROOT / "docs" / "queries.md"
ANSWERS = ROOT / "docs" / "answers"
ANSWERS_CLI = "ingest.answers"


def doc_sql(engine: str) -> dict[str, str]:
    """docs/queries.md's SQL blocks whose first line is ``-- <engine>: <name>``, by name."""
    blocks = re.findall(r"```sql\n(.*?)```", QUERIES_MD.read_text(), flags=re.DOTALL)
    found = {}
    for block in blocks:
        first, _, body = block.partition("\n")
        if first.startswith(f"-- {engine}: "):
            found[first.removeprefix(f"-- {engine}: ").strip()] = body
    return found


def _same(a: str) -> str:
    return " ".join(a.split())


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")

    async def fill() -> None:
        async with open_lake(str(root)) as opened:
            await write_raw_zone(opened, small_catalog())

    asyncio.run(fill())
    return root


def test_each_question_is_in_the_docs_in_athena_and_duckdb_sql_the_command_runs() -> None:
    duck, athena = doc_sql("DuckDB"), doc_sql("Athena")
    slugs = [q.slug for q in queries.QUESTIONS]
    assert sorted(duck) == sorted(athena) == sorted([*slugs, "views"])
    assert _same(duck["views"]) == _same(queries.VIEWS)
    for question in queries.QUESTIONS:
        assert _same(duck[question.slug]) == _same(question.sql)
        assert duck[question.slug] != athena[question.slug]


def _drawn(figure: Figure) -> None:
    """Draw it, so that categorical tick labels exist."""
    figure.savefig(io.BytesIO(), format="png")


def _bars(ax: Any) -> list[tuple[str, float]]:
    """A horizontal bar chart's (label, value), top bar first."""
    labels = [t.get_text() for t in ax.get_yticklabels()]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    return [(label, float(p.get_width())) for label, p in zip(labels, bars, strict=True)][::-1]


def test_each_chart_shows_the_numbers_its_sql_returns(lake: Path) -> None:
    con = queries.connect(lake)
    documented = doc_sql("DuckDB")
    on_page = {q.slug: con.execute(documented[q.slug]).fetchall() for q in queries.QUESTIONS}
    assert all(on_page.values()), on_page

    franchises = charts.draw_franchises(queries.answer(con, queries.QUESTIONS[0]))
    _drawn(franchises)
    crime, war = franchises.axes
    for ax, genre in ((crime, "crime"), (war, "war")):
        rows = [r for r in on_page["franchises"] if r[0] == genre]
        drawn = _bars(ax)
        assert [label for label, _ in drawn] == [f"{name} ({films} films)" for _, _, name, films, _ in rows]
        assert [value for _, value in drawn] == pytest.approx([avg for *_, avg in rows])
        assert ax.get_title() == genre.capitalize()

    wars = charts.draw_wars(queries.answer(con, queries.QUESTIONS[1]))
    _drawn(wars)
    assert _bars(wars.axes[0]) == [(w, float(n)) for w, n in on_page["wars"]]

    decades = charts.draw_crime_decades(queries.answer(con, queries.QUESTIONS[2]))
    _drawn(decades)
    count_ax, pop_ax = decades.axes
    rows = on_page["crime_decades"]
    bars = [p for p in count_ax.patches if isinstance(p, Rectangle)]
    assert [round(p.get_x() + p.get_width() / 2) for p in bars] == [d for d, *_ in rows]
    assert [p.get_height() for p in bars] == [n for _, n, _, _ in rows]
    mean, median = pop_ax.get_lines()
    assert np.asarray(mean.get_xdata()).tolist() == [d for d, *_ in rows]
    assert np.asarray(mean.get_ydata()).tolist() == pytest.approx([avg for _, _, avg, _ in rows])
    assert np.asarray(median.get_ydata()).tolist() == pytest.approx([med for *_, med in rows])


def test_the_command_writes_a_chart_per_question_and_a_page(lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "answers"
    done = asyncio.run(
        run_cli("--lake", str(lake), "--out", str(out), module=ANSWERS_CLI, cwd=ROOT, timeout_s=300)
    )
    assert done.returncode == 0, done.stderr
    page = (out / "README.md").read_text()
    for question in queries.QUESTIONS:
        assert (out / f"{question.slug}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({question.slug}.png)" in page and f"## {question.title}" in page
    # The table under the wars chart holds the SQL's rows.
    wars = queries.answer(queries.connect(lake), queries.QUESTIONS[1])
    assert all(f"| {w} | {n} |" in page for w, n in wars)


@pytest.mark.parametrize(
    ("lake_is", "says"),
    [("missing", "is not a directory"), ("empty", "holds no TMDB"), ("s3", "reads a lake directory")],
)
def test_a_lake_without_answers_is_one_line_and_exit_2(tmp_path: Path, lake_is: str, says: str) -> None:
    lake: Path | str = tmp_path / "lake"
    if lake_is == "empty":
        (tmp_path / "lake").mkdir()
    elif lake_is == "s3":
        lake = "s3://movies-lake"
    done = asyncio.run(
        run_cli("--lake", str(lake), "--out", str(tmp_path / "out"), module=ANSWERS_CLI, cwd=ROOT)
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and says in done.stderr
    assert not (tmp_path / "out").exists()


def test_the_committed_answers_page_shows_every_chart() -> None:
    page = (ANSWERS / "README.md").read_text()
    for question in queries.QUESTIONS:
        assert (ANSWERS / f"{question.slug}.png").is_file()
        assert f"]({question.slug}.png)" in page
    assert "docs/answers/" in (ROOT / "README.md").read_text()
