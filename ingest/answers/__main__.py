"""``python -m ingest.answers --lake DIR --out DIR``: a PNG per analyst question and a
Markdown page (``README.md``) that shows them. Exit 0 done; 2 bad usage, a lake without
TMDB data, or the ``answers`` extra not installed (one line on stderr)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ingest.answers",
        description=(
            "Answer the analyst questions of docs/queries.md on a lake directory with DuckDB and "
            "draw them: one PNG per question and a Markdown page, README.md, in --out."
        ),
        epilog="Needs the answers extra: pip install -e '.[answers]' (DuckDB and matplotlib).",
    )
    p.add_argument("--lake", required=True, help="the lake directory (what --lake of python -m ingest wrote)")
    p.add_argument(
        "--out", type=Path, required=True, help="where the PNGs and README.md go (made if missing)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.lake.startswith("s3://"):
        return _bad(
            f"--lake {args.lake}: answers reads a lake directory; python -m ingest --lake DIR makes one"
        )
    lake = Path(args.lake)
    if not lake.is_dir():
        return _bad(f"--lake {lake} is not a directory; give the local lake python -m ingest wrote")
    try:
        from ingest.answers import charts, page, queries
    except ImportError as exc:
        return _bad(f"{exc.name} is missing: install the answers extra, pip install -e '.[answers]'")
    try:
        con = queries.connect(lake)
    except queries.NoTmdbData as exc:
        return _bad(f"{exc}; run python -m ingest --lake {lake} first")
    args.out.mkdir(parents=True, exist_ok=True)
    answered = []
    rules = queries.thresholds(con)
    for question in queries.QUESTIONS:
        rows = queries.answer(con, question)
        figure = charts.DRAW[question.slug](rows, rules)
        figure.savefig(args.out / f"{question.slug}.png", dpi=110)
        answered.append((question, rows))
    days = con.execute("SELECT min(day), max(day) FROM tmdb_movie_versions").fetchone() or (None, None)
    (args.out / "README.md").write_text(page.render(answered, days), encoding="utf-8")
    print(f"wrote {len(answered)} charts and README.md to {args.out}", file=sys.stderr)
    return 0


def _bad(message: str) -> int:
    print(f"answers: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
