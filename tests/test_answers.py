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
    assert len(slugs) == 6
    assert sorted(duck) == sorted(athena) == sorted([*slugs, "views", "definitions"])
    assert _same(duck["views"]) == _same(queries.VIEWS)
    assert _same(duck["definitions"]) == _same(queries.DEFINITIONS)
    for question in queries.QUESTIONS:
        assert _same(duck[question.slug]) == _same(question.sql)
    # Athena's spelling uses none of DuckDB's own functions (the table of differences).
    for name, sql in athena.items():
        assert not re.search(r"\b(list_\w+|median|read_json|read_csv|glob)\(|\s//\s", sql), name


def test_the_definitions_are_data_the_sql_reads_not_cases() -> None:
    for engine in ("DuckDB", "Athena"):
        for name, sql in doc_sql(engine).items():
            assert "CASE" not in sql.upper().split(), f"{engine}: {name} spells a definition as a CASE"
    for table in ("answer_wars", "answer_crime_themes", "answer_thresholds"):
        assert table in doc_sql("Athena")["definitions"] and table in queries.DEFINITIONS


def _drawn(figure: Figure) -> None:
    """Draw it, so that categorical tick labels exist."""
    figure.savefig(io.BytesIO(), format="png")


def _rects(ax: Any) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _bars(ax: Any) -> list[tuple[str, float]]:
    """A horizontal bar chart's (label, value), top bar first."""
    labels = [t.get_text() for t in ax.get_yticklabels()]
    return [(label, float(p.get_width())) for label, p in zip(labels, _rects(ax), strict=True)][::-1]


@pytest.fixture(scope="module")
def answered(lake: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Each question's rows, from the SQL docs/queries.md shows."""
    con = queries.connect(lake)
    documented = doc_sql("DuckDB")
    rows = {q.slug: con.execute(documented[q.slug]).fetchall() for q in queries.QUESTIONS}
    assert all(rows.values()), rows
    return rows


@pytest.fixture(scope="module")
def rules(lake: Path) -> dict[str, int]:
    return queries.thresholds(queries.connect(lake))


def _chart(slug: str, rows: list[tuple[Any, ...]], rules: dict[str, int]) -> Figure:
    figure = charts.DRAW[slug](rows, rules)
    _drawn(figure)
    return figure


def test_the_franchise_panels_show_the_sql_on_one_scale(
    answered: dict[str, list[tuple[Any, ...]]], rules: dict[str, int]
) -> None:
    rows = answered["franchises"]
    crime, war = _chart("franchises", rows, rules).axes
    for ax, genre in ((crime, "crime"), (war, "war")):
        mine = [r for r in rows if r[0] == genre]
        drawn = _bars(ax)
        assert [label for label, _ in drawn] == [f"{name} ({films} films)" for _, _, name, films, _ in mine]
        assert [value for _, value in drawn] == pytest.approx([avg for *_, avg in mine])
        assert ax.get_title() == genre.capitalize()
    assert crime.get_xlim() == war.get_xlim()
    assert max(r[4] for r in rows) <= crime.get_xlim()[1]


def test_the_wars_chart_shows_the_sql(
    answered: dict[str, list[tuple[Any, ...]]], rules: dict[str, int]
) -> None:
    rows = answered["wars"]
    (ax,) = _chart("wars", rows, rules).axes
    assert _bars(ax) == [(f"{w} ({a}-{b})", float(n)) for w, a, b, n in rows]


def test_the_best_scored_films_chart_shows_the_sql_on_the_whole_scale(
    answered: dict[str, list[tuple[Any, ...]]], rules: dict[str, int]
) -> None:
    rows = answered["best_of_top_war"]
    assert len({r[0] for r in rows}) == 1 and all(r[5] >= rules["min_vote_count"] for r in rows)
    (ax,) = _chart("best_of_top_war", rows, rules).axes
    drawn = _bars(ax)
    assert [label for label, _ in drawn] == [f"{title} ({year})" for _, _, title, year, _, _ in rows]
    assert [value for _, value in drawn] == pytest.approx([score for *_, score, _ in rows])
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] >= 10
    assert f"at least {rules['min_vote_count']:,} votes" in ax.get_xlabel()
    assert rows[0][0] in ax.get_title()


def test_the_wartime_chart_shows_the_sql_and_marks_small_periods(
    answered: dict[str, list[tuple[Any, ...]]], rules: dict[str, int]
) -> None:
    rows = answered["wartime_crime"]
    made, rated = _chart("wartime_crime", rows, rules).axes
    # Drawn period by period (before, during, after), each in the SQL's order of wars.
    order = [r for period in ("before", "during", "after") for r in rows if r[1] == period]
    assert len(order) == len(rows)
    assert [p.get_width() for p in _rects(made)] == pytest.approx([r[5] for r in order])
    assert [p.get_width() for p in _rects(rated)] == pytest.approx([r[7] or 0 for r in order])
    for ax, count in ((made, 4), (rated, 6)):
        marked = [p.get_hatch() == "//" for p in _rects(ax)]
        assert marked == [r[count] < rules["min_films"] for r in order]
    assert any(r[4] >= rules["min_films"] for r in rows) and any(r[4] < rules["min_films"] for r in rows)
    assert rated.get_xlim() == (0, 11) and made.get_ylim() == rated.get_ylim()


def test_the_crime_themes_chart_shows_the_sql(
    answered: dict[str, list[tuple[Any, ...]]], rules: dict[str, int]
) -> None:
    rows = answered["crime_themes"]
    (ax,) = _chart("crime_themes", rows, rules).axes
    assert _bars(ax) == [(theme, float(n)) for theme, _, n, _ in rows]


def test_the_decades_chart_shows_the_sql_and_leaves_out_small_decades(
    answered: dict[str, list[tuple[Any, ...]]], rules: dict[str, int]
) -> None:
    rows = answered["crime_decades"]
    figure = _chart("crime_decades", rows, rules)
    pop_ax, count_ax = figure.axes
    bars = _rects(count_ax)
    assert [round(p.get_x() + p.get_width() / 2) for p in bars] == [d for d, *_ in rows]
    assert [p.get_height() for p in bars] == [n for _, n, *_ in rows]
    assert [p.get_hatch() == "//" for p in bars] == [n < rules["min_films"] for _, n, *_ in rows]
    assert [enough for *_, enough in rows] == [n >= rules["min_films"] for _, n, *_ in rows]
    enough = [r for r in rows if r[4]]
    assert enough and len(enough) < len(rows)
    mean, median = pop_ax.get_lines()
    assert np.asarray(mean.get_xdata()).tolist() == [d for d, *_ in enough]
    assert np.asarray(mean.get_ydata()).tolist() == pytest.approx([r[2] for r in enough])
    assert np.asarray(median.get_ydata()).tolist() == pytest.approx([r[3] for r in enough])
    assert f"at least {rules['min_films']} films" in figure.get_suptitle()


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
    wars = queries.answer(queries.connect(lake), queries.BY_SLUG["wars"])
    assert all(f"| {w} | {a} | {b} | {n} |" in page for w, a, b, n in wars)


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
    readme = (ROOT / "README.md").read_text()
    assert "docs/answers/" in readme
    # The README names the six questions, as the page titles them.
    for question in queries.QUESTIONS:
        assert question.title.partition(". ")[2] in readme, question.title
