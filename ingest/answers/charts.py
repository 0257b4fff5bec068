"""One chart per analyst question, drawn with matplotlib from the rows its SQL returned.

Each ``draw_*`` takes exactly the rows of ``queries.answer`` (and the thresholds table,
to say its rule on the chart), so what a chart shows is what the SQL said
(tests/test_answers.py reads the numbers back off the figure). The charts are made to be
compared fairly: panels meant to be read side by side share their scale, a score is
drawn on its whole 0 to 10 range, and a group smaller than ``min_films`` is drawn pale and
hatched, with the rule written on the chart. Bars carry their value as a label, placed
where no other mark is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

# A Figure made without pyplot needs no display and no GUI toolkit: it only saves files.
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

Rows = Sequence[tuple[Any, ...]]
Thresholds = Mapping[str, int]
_CRIME, _WAR, _PALE = "#8c2d04", "#35618f", "#c8c8c8"
_PERIODS = {"before": "#9ecae1", "during": "#8c2d04", "after": "#fdae6b"}
_SMALL = "//"
_SCORE_MAX = 10


def _small_note(thresholds: Thresholds, what: str) -> str:
    return f"faded, hatched: {what} of fewer than {thresholds['min_films']} films, too few to compare"


def draw_franchises(rows: Rows, thresholds: Thresholds) -> Figure:
    """Two panels on one x scale, Crime and War: the top five franchises by the mean
    popularity of their films."""
    fig = Figure(figsize=(11, 5.2), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    for ax, genre, colour in zip(axes, ("crime", "war"), (_CRIME, _WAR), strict=True):
        mine = [r for r in rows if r[0] == genre][::-1]  # the top one at the top
        labels = [f"{name} ({films} films)" for _, _, name, films, _ in mine]
        bars = ax.barh(labels, [float(r[4]) for r in mine], color=colour)
        ax.bar_label(bars, fmt="%.2f", padding=3)
        ax.set_title(genre.capitalize())
        ax.set_xlabel("mean TMDB popularity of its films")
    axes[0].margins(x=0.15)
    fig.suptitle("Which Crime and War franchises are most popular? (both panels on one scale)")
    return fig


def draw_wars(rows: Rows, thresholds: Thresholds) -> Figure:
    """Each war of the wars table, by the number of War films whose keywords name it."""
    fig = Figure(figsize=(8.5, 0.45 * len(rows) + 1.9), layout="constrained")
    ax = fig.subplots()
    ordered = list(rows)[::-1]
    labels = [f"{war} ({start}-{end})" for war, start, end, _ in ordered]
    bars = ax.barh(labels, [int(r[3]) for r in ordered], color=_WAR)
    ax.bar_label(bars, padding=3)
    ax.set_xlabel("War films whose keywords name the war")
    ax.margins(x=0.12)
    ax.set_title("Which wars do War films portray most?")
    return fig


def draw_best_of_top_war(rows: Rows, thresholds: Thresholds) -> Figure:
    """The ten films of the most portrayed war with the best critics' score, on 0 to 10."""
    fig = Figure(figsize=(9, 0.42 * max(len(rows), 1) + 2.2), layout="constrained")
    ax = fig.subplots()
    ordered = list(rows)[::-1]
    labels = [f"{title} ({year or 'no date'})" for _, _, title, year, _, _ in ordered]
    bars = ax.barh(labels, [float(r[4]) for r in ordered], color=_WAR)
    ax.bar_label(bars, labels=[f"{r[4]:.2f}  ({r[5]:,} votes)" for r in ordered], padding=3)
    ax.set_xlim(0, _SCORE_MAX + 3)  # room for the labels; the scale is the score's 0 to 10
    ax.set_xticks(range(0, _SCORE_MAX + 1, 2))
    ax.set_xlabel(
        f"critics' score: TMDB vote_average, films with at least {thresholds['min_vote_count']:,} votes"
    )
    war = rows[0][0] if rows else "no war"
    ax.set_title(f"{war}, the war War films portray most: its best-scored films")
    return fig


def draw_wartime_crime(rows: Rows, thresholds: Thresholds) -> Figure:
    """Per war, Crime films released before, during and after it (windows as long as the
    war): how many a year, and their mean audience rating on 0 to 10."""
    wars = list(dict.fromkeys(r[0] for r in rows))
    fig = Figure(figsize=(12, 0.75 * len(wars) + 2.6), layout="constrained")
    made, rated = fig.subplots(1, 2, sharey=True)
    height = 0.27
    small = thresholds["min_films"]
    for step, (period, colour) in enumerate(_PERIODS.items()):
        mine = [r for r in rows if r[1] == period]
        # Before on top: the y axis runs down the list of wars.
        ys = [wars.index(r[0]) + (step - 1) * height for r in mine]
        for ax, value, count in ((made, 5, 4), (rated, 7, 6)):
            values = [float(r[value] or 0) for r in mine]
            few = [int(r[count]) < small for r in mine]
            bars = ax.barh(
                ys,
                values,
                height=height,
                color=[_faded(colour) if f else colour for f in few],
                hatch=[_SMALL if f else "" for f in few],
                edgecolor="white",
            )
            texts = [
                ""
                if r[value] is None
                else (f"{float(r[value]):.2f}" if value == 5 else f"{float(r[value]):.1f}")
                for r in mine
            ]
            ax.bar_label(bars, labels=texts, padding=2, fontsize=7)
    made.set_yticks(range(len(wars)), [_war_label(w, rows) for w in wars])
    made.invert_yaxis()
    made.set_xlabel("Crime films released a year")
    made.margins(x=0.12)
    rated.set_xlim(0, _SCORE_MAX + 1)
    rated.set_xticks(range(0, _SCORE_MAX + 1, 2))
    rated.set_xlabel(
        f"mean audience rating (vote_average, films with at least {thresholds['min_vote_count']:,} votes)"
    )
    handles = [Patch(color=c, label=f"{p} the war") for p, c in _PERIODS.items()]
    handles.append(
        Patch(facecolor=_PALE, hatch=_SMALL, edgecolor="white", label=_small_note(thresholds, "a period"))
    )
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=8)
    fig.suptitle(
        "In wartime, were more or fewer Crime films made, and how were they rated?\n"
        "(before and after: as many years as the war lasted)"
    )
    return fig


def _war_label(war: str, rows: Rows) -> str:
    during = next(r for r in rows if r[0] == war and r[1] == "during")
    years = str(during[2]) if during[2] == during[3] else f"{during[2]}-{during[3]}"
    return f"{war}\n{years}"


def _faded(colour: str) -> tuple[float, float, float, float]:
    """The colour, see-through: still its period's, plainly not a full bar."""
    return (*to_rgb(colour), 0.35)


def draw_crime_themes(rows: Rows, thresholds: Thresholds) -> Figure:
    """Each crime or theme of the themes table, by the number of Crime films whose
    keywords name it (and their share of all Crime films)."""
    fig = Figure(figsize=(9, 0.42 * len(rows) + 2), layout="constrained")
    ax = fig.subplots()
    ordered = list(rows)[::-1]
    colours = [_CRIME if r[1] == "crime" else "#b59a7d" for r in ordered]
    bars = ax.barh([str(r[0]) for r in ordered], [int(r[2]) for r in ordered], color=colours)
    ax.bar_label(bars, labels=[f"{r[2]} ({r[3]:.1f}%)" for r in ordered], padding=3)
    ax.set_xlabel("Crime films whose keywords name it (share of all Crime films)")
    ax.margins(x=0.18)
    ax.legend(
        handles=[
            Patch(color=_CRIME, label="a crime"),
            Patch(color="#b59a7d", label="a theme of crime films"),
        ],
        loc="lower right",
    )
    ax.set_title("Which crime or theme do Crime films portray most?")
    return fig


def draw_crime_decades(rows: Rows, thresholds: Thresholds) -> Figure:
    """Crime films by release decade: their popularity (top) and how many (bottom), on
    one x axis. Popularity is drawn only for decades of at least ``min_films`` films; the
    others' bars are faded and hatched."""
    fig = Figure(figsize=(10, 6.4), layout="constrained")
    pop_ax, count_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    decades = [int(r[0]) for r in rows]
    few = [not r[4] for r in rows]
    enough = [r for r in rows if r[4]]
    for column, style, colour, label in ((2, "o-", _CRIME, "mean"), (3, "s--", "#555555", "median")):
        pop_ax.plot(
            [int(r[0]) for r in enough], [float(r[column]) for r in enough], style, color=colour,
            label=f"{label} popularity",
        )  # fmt: skip
    pop_ax.set_ylabel("TMDB popularity (today)")
    pop_ax.set_ylim(bottom=0)
    pop_ax.margins(y=0.15)
    pop_ax.legend(loc="upper left")
    bars = count_ax.bar(
        decades,
        [int(r[1]) for r in rows],
        width=7,
        color=[_faded("#b08a6a") if f else "#d9c3b0" for f in few],
        hatch=[_SMALL if f else "" for f in few],
        edgecolor="white",
    )
    count_ax.bar_label(bars, padding=2, fontsize=8)
    count_ax.margins(y=0.2)
    count_ax.set_ylabel("Crime films")
    count_ax.set_xlabel("release decade")
    count_ax.set_xticks(decades, [f"{d}s" for d in decades], rotation=45)
    fig.suptitle(
        "How did crime-film popularity move over the decades?\n"
        f"(popularity drawn for decades of at least {thresholds['min_films']} films; "
        "faded, hatched bars: fewer, too few to compare)",
        fontsize=11,
    )
    return fig


DRAW: dict[str, Callable[[Rows, Thresholds], Figure]] = {
    "franchises": draw_franchises,
    "wars": draw_wars,
    "best_of_top_war": draw_best_of_top_war,
    "wartime_crime": draw_wartime_crime,
    "crime_themes": draw_crime_themes,
    "crime_decades": draw_crime_decades,
}
