"""One chart per analyst question, drawn with matplotlib from the rows its SQL returned.

Each ``draw_*`` takes exactly the rows of ``queries.answer`` and nothing else, so what a
chart shows is what the SQL said (tests/test_answers.py reads the numbers back off the
figure). Bars carry their value as a label; nothing is smoothed or rounded away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# A Figure made without pyplot needs no display and no GUI toolkit: it only saves files.
from matplotlib.figure import Figure

Rows = Sequence[tuple[Any, ...]]
_CRIME, _WAR = "#8c2d04", "#35618f"


def draw_franchises(rows: Rows) -> Figure:
    """Two panels, Crime and War: the top five franchises by mean popularity of their films."""
    fig = Figure(figsize=(10, 5.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, genre, colour in zip(axes, ("crime", "war"), (_CRIME, _WAR), strict=True):
        mine = [r for r in rows if r[0] == genre][::-1]  # the top one at the top
        labels = [f"{name} ({films} films)" for _, _, name, films, _ in mine]
        bars = ax.barh(labels, [float(r[4]) for r in mine], color=colour)
        ax.bar_label(bars, fmt="%.2f", padding=3)
        ax.set_title(genre.capitalize())
        ax.set_xlabel("mean TMDB popularity of its films")
        ax.margins(x=0.18)
    fig.suptitle("Which Crime and War franchises are most popular?")
    return fig


def draw_wars(rows: Rows) -> Figure:
    """Each war keyword, by the number of War films that carry it."""
    fig = Figure(figsize=(8, 0.5 * len(rows) + 1.8), layout="constrained")
    ax = fig.subplots()
    ordered = list(rows)[::-1]
    bars = ax.barh([str(r[0]) for r in ordered], [int(r[1]) for r in ordered], color=_WAR)
    ax.bar_label(bars, padding=3)
    ax.set_xlabel("War films with the keyword")
    ax.margins(x=0.12)
    ax.set_title("Which wars do War films portray most?")
    return fig


def draw_crime_decades(rows: Rows) -> Figure:
    """Crime films by release decade: how many (bars), and their popularity (lines)."""
    fig = Figure(figsize=(10, 5.2), layout="constrained")
    count_ax = fig.subplots()
    decades = [int(r[0]) for r in rows]
    bars = count_ax.bar(decades, [int(r[1]) for r in rows], width=7, color="#d9c3b0", label="films")
    count_ax.bar_label(bars, padding=2, fontsize=8)
    count_ax.set_xlabel("release decade")
    count_ax.set_ylabel("Crime films")
    count_ax.set_xticks(decades, [f"{d}s" for d in decades], rotation=45)
    pop_ax = count_ax.twinx()
    pop_ax.plot(decades, [float(r[2]) for r in rows], "o-", color=_CRIME, label="mean popularity")
    pop_ax.plot(decades, [float(r[3]) for r in rows], "s--", color="#555555", label="median popularity")
    pop_ax.set_ylabel("TMDB popularity (today)")
    pop_ax.set_ylim(bottom=0)
    handles: list[Any] = [bars, *pop_ax.get_lines()]
    fig.legend(
        handles, ["films", "mean popularity", "median popularity"], loc="outside lower center", ncols=3
    )
    fig.suptitle("How did crime-film popularity move over the decades?")
    return fig


DRAW: dict[str, Callable[[Rows], Figure]] = {
    "franchises": draw_franchises,
    "wars": draw_wars,
    "crime_decades": draw_crime_decades,
}
