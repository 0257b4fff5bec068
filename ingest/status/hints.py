"""What finishes an incomplete date, computed from what is missing, dataset by dataset.

Each CSV file and TMDB dataset that is not in the lake belongs to the latest run of the
date that asked for it; the hint is, per such run, that run's request narrowed to what it
still owes: a rerun of the genres, files or catalogue missing (with its refresh, limit and
entry point), or, after ``--enqueue``, queue workers. The latest run alone would name
work that is already done (a genre rerun to completion after another was stopped), and
a cron job trusting that would loop on exit 1.

Commands are printed to run as they are, from any directory and in any POSIX shell:
paths are absolute where the run recorded them so and quoted (``shlex.quote``), and the
interpreter is the one status runs under, named ``python`` only when that is the one the
shell finds.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from ingest.errors import ConfigError
from ingest.lake.keys import Kind, csv_key
from ingest.reports.commands import python, workers_command
from ingest.reports.progress import counted
from ingest.settings.genres import resolve_genre
from ingest.state.dataset import CatalogueDataset, Dataset, GenreDataset
from ingest.state.runs import RunRequest
from ingest.status.rows import DateStatus


class QueueView(NamedTuple):
    """The queue as status reads it after ``--enqueue``: SQS's approximate counts."""

    waiting: int
    in_flight: int
    # Messages on the dead-letter queue, every date's, and its ARN (the redrive's source).
    dead_lettered: int = 0
    dead_letter_arn: str | None = None


def redrive_command(arn: str) -> str:
    """Moves every message of the dead-letter queue back to the queue it came from."""
    return f"aws sqs start-message-move-task --source-arn {shlex.quote(arn)}"


@dataclass(frozen=True, slots=True)
class Owed:
    """What one run of the date asked for and the lake does not hold yet."""

    run: RunRequest
    # The run's request narrowed to what is missing: ``command`` reruns only that.
    narrowed: RunRequest


def command(request: RunRequest, lake: str) -> str:
    """The command that asks for ``request``'s work again (a rerun resumes it)."""
    q = shlex.quote
    words = [python(), "-m", "ingest"]
    for path in request.csv:
        words += ["--csv", q(path)]
    # One --genre word serves both media: the series of ``war`` are War & Politics'.
    counterparts = {_tv_slug(g) for g in request.genres}
    for genre in (*request.genres, *(s for s in request.series if s not in counterparts)):
        words += ["--genre", q(genre)]
    media = ["movies"] * bool(request.genres or request.catalogue)
    media += ["series"] * bool(request.series or request.catalogue_series)
    # Always named: where the command is pasted, config.toml's [job] media may be another
    # (the bundled one takes both), and a bare --genre would then start datasets this
    # run never asked for.
    words += ["--media", ",".join(media)] * bool(media)
    words += ["--catalogue"] * (request.catalogue or request.catalogue_series)
    words += ["--include-adult"] * request.include_adult
    words += ["--collections"] * request.collections
    words += ["--limit", str(request.limit)] * (request.limit is not None)
    words += ["--refresh", request.refresh] * (request.refresh != "incremental")
    words += ["--enqueue"] * request.enqueue
    return " ".join([*words, "--lake", q(lake), "--date", request.date.isoformat()])


def _tv_slug(movie_genre: str) -> str | None:
    try:
        return resolve_genre(movie_genre, "series").slug
    except ConfigError:
        return None


def owed(status: DateStatus) -> list[Owed]:
    """Per run (oldest first), the missing work whose latest asker it is."""
    latest: dict[object, RunRequest] = {}
    for run in status.runs:
        for path in run.csv:
            latest[("csv", csv_key(Path(path).name, status.date))] = run
        for dataset in run.datasets():
            latest[dataset] = run
    missing_csv: dict[str, set[str]] = {}
    missing_tmdb: dict[str, set[Dataset]] = {}
    for c in status.csv:
        asker = latest.get(("csv", c.key))
        if not c.complete and asker is not None:
            missing_csv.setdefault(asker.run_id, set()).add(c.key)
    for t in status.tmdb:
        asker = latest.get(t.dataset)
        if not t.complete and asker is not None:
            missing_tmdb.setdefault(asker.run_id, set()).add(t.dataset)
    out = []
    for run in status.runs:
        keys, datasets = missing_csv.get(run.run_id, set()), missing_tmdb.get(run.run_id, set())
        if keys or datasets:
            out.append(Owed(run, _narrowed(run, keys, datasets)))
    return out


def _narrowed(run: RunRequest, keys: set[str], datasets: set[Dataset]) -> RunRequest:
    genres = tuple(
        g
        for g in run.genres
        if any(GenreDataset(k, slug=g) in datasets for k in (Kind.MOVIES, Kind.COLLECTIONS))
    )
    series = tuple(s for s in run.series if GenreDataset(Kind.SERIES, slug=s) in datasets)
    catalogue = run.catalogue and any(
        CatalogueDataset(k) in datasets for k in (Kind.MOVIES, Kind.COLLECTIONS)
    )
    catalogue_series = run.catalogue_series and CatalogueDataset(Kind.SERIES) in datasets
    return replace(
        run,
        csv=tuple(p for p in run.csv if csv_key(Path(p).name, run.date) in keys),
        genres=genres,
        movies=bool(genres),
        # --collections asks for the movies too (a rerun of complete movies is free).
        collections=run.collections and (bool(genres) or catalogue),
        catalogue=catalogue,
        include_adult=run.include_adult and (catalogue or catalogue_series),
        series=series,
        catalogue_series=catalogue_series,
    )


def unowned(status: DateStatus) -> bool:
    """Whether something missing was asked for by no recorded run (a lake older than the
    run records, or a record lost): only "the same command" can be said of it."""
    asked: set[object] = {("csv", csv_key(Path(p).name, status.date)) for r in status.runs for p in r.csv}
    asked |= {d for r in status.runs for d in r.datasets()}
    return any(not c.complete and ("csv", c.key) not in asked for c in status.csv) or any(
        not t.complete and t.dataset not in asked for t in status.tmdb
    )


def commands(status: DateStatus) -> list[str]:
    """The shell commands the hint names, in the order to run them (queue workers are a
    service, not a command that ends, and a Lambda's date is finished by invoking it: those
    are said, not listed here)."""
    return [
        command(o.narrowed, status.lake)
        for o in owed(status)
        if not _on_queue(o.run) and o.run.entry != "lambda"
    ]


def _on_queue(run: RunRequest) -> bool:
    return run.enqueue and run.outcome == "enqueued"


def hint(status: DateStatus, queue: QueueView | None) -> str:
    """What finishes the date, for the way each missing piece was asked for."""
    date = status.date.isoformat()
    parts = [_say(o, status, queue) for o in owed(status)]
    if not parts or unowned(status):
        parts.append(f"rerun the same command with --date {date} to finish it")
    return "; then ".join(dict.fromkeys(parts))


def _say(o: Owed, status: DateStatus, queue: QueueView | None) -> str:
    if _on_queue(o.run):
        waiting = (
            ""
            if queue is None
            else f" ({counted(queue.waiting, 'message')} waiting, {queue.in_flight:,} in flight on the queue)"
        )
        said = f"the batches were sent to the queue: start queue workers ({workers_command()}){waiting}"
        if queue is not None and queue.dead_lettered and queue.dead_letter_arn:
            said += (
                f"; {counted(queue.dead_lettered, 'message')} on the dead-letter queue (any date's, "
                f"failed at maxReceiveCount): move them back with {redrive_command(queue.dead_letter_arn)} "
                "once what failed them is fixed"
            )
        return said
    run_now = command(o.narrowed, status.lake)
    if o.run.entry == "service":
        return f"the service's next run finishes it, or run now: {run_now}"
    if o.run.entry == "lambda":
        return f'invoke the Lambda again with the same event and "date": "{status.date.isoformat()}"'
    return f"rerun to finish it: {run_now}"
