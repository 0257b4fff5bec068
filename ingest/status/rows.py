"""The rows of ``python -m ingest status``: a CSV file, a TMDB dataset, a whole date.
Built by ``ingest.status.survey`` (genres, CSV files) and ``ingest.status.catalogue``
(the whole catalogue's datasets); drawn by ``ingest.status.render``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ingest.lake.keys import Kind
from ingest.state.dataset import Dataset
from ingest.state.runs import RunRequest
from ingest.state.view import CsvFileState

# A CSV file's row: what the state package found of it.
CsvStatus = CsvFileState


@dataclass(frozen=True, slots=True)
class TmdbStatus:
    dataset: Dataset
    # "full" or "incremental": what the partition holds (a snapshot or the changes). An
    # unplanned dataset holds nothing: this is the refresh its run asked for, which the run
    # decides only when it plans (a first run, for one, is full whatever was asked).
    refresh: str
    planned: int
    written: int
    # Planned ids TMDB answered 404 for: not an error, not in the lake.
    not_found: int
    batches: int
    missing_batches: tuple[int, ...]
    # Movies gone since the previous complete run: left the genre or answered 404
    # (movies only; ``removed.json``, written once the movie plan is whole).
    removed: int
    # How many of the genre's movies discover could not reach, and why (movies only).
    gap: int | None
    gap_reason: str | None
    # The date of the dataset's last complete run: where the next incremental run starts
    # from (None before its first complete run).
    cursor: str | None
    # None for a dataset a run asked for whose plan was never saved: the run stopped
    # before it got there (another genre first, stage 1, or the genre's movies).
    plan_id: str | None
    # Every batch is in, the run was for the whole genre, and the step that ends a
    # complete run (``removed.json``, the cursor) was not taken: the run was stopped
    # between its last batch and that step.
    unfinished: bool = False
    # Records over a file's cap, noted apart in the lake's state and not in the files.
    oversized: int = 0
    # A full plan where incremental was asked: why (``append_changed``, ``first_run``, ...).
    full_because: str | None = None

    @property
    def genre(self) -> str:
        """The dataset's name: a genre's slug, or ``catalogue``."""
        return self.dataset.name

    @property
    def kind(self) -> Kind:
        return self.dataset.kind

    @property
    def unplanned(self) -> bool:
        return self.plan_id is None

    @property
    def state(self) -> str:
        if self.unplanned:
            return "unplanned"
        if self.missing_batches:
            return "missing"
        return "finishing" if self.unfinished else "ok"

    @property
    def complete(self) -> bool:
        return self.state == "ok"


@dataclass(frozen=True, slots=True)
class DateStatus:
    lake: str
    date: dt.date
    csv: tuple[CsvStatus, ...]
    tmdb: tuple[TmdbStatus, ...]
    # The runs of the date, oldest first: what they asked for and how they ended.
    runs: tuple[RunRequest, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.csv and not self.tmdb

    @property
    def last_run(self) -> RunRequest | None:
        return self.runs[-1] if self.runs else None

    @property
    def complete(self) -> bool:
        """Everything planned for the date is in the lake; an empty date is not complete
        (a cron gate asking "did today land?" must hear no)."""
        return not self.empty and all(c.complete for c in self.csv) and all(t.complete for t in self.tmdb)
