"""What a TMDB dataset is: the unit that is planned, fetched in batches, marked done,
completed and reported, whatever selects it.

A dataset is one ``Kind`` of record (movies, collections) of one scope: a genre
(``GenreDataset``: the movies of War, or the collections they belong to) or the whole
catalogue of TMDB's daily ID export (``CatalogueDataset``). Each variant knows its name,
its keys (state and data) and how its files are numbered; the plans (``ingest.state.plan``,
``ingest.state.catalogue_plan``) say which one they are for (``PlanRef.dataset``), and the
pool, the sink, the markers, the queue message and ``status`` go through it instead of
asking which variant they hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from ingest.errors import RunError
from ingest.lake.keys import Kind, tmdb_key, tmdb_prefix
from ingest.state import keys

# A batch is cut into pieces of at most 10 MB; piece j of batch i is file i + stride (j - 1).
PIECE_STRIDE = 10_000
MAX_RECORDS = 100
CATALOGUE = "catalogue"


@dataclass(frozen=True, slots=True)
class Dataset:
    """The base: a kind of record, and how its files are numbered."""

    kind: Kind
    # Digits of a file's number in its key (``war-00001.json``).
    digits: ClassVar[int] = 5

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def label(self) -> str:
        """How a person names it: ``war movies``, ``catalogue collections``."""
        return f"{self.name} {self.kind}"

    def state(self, date: dt.date) -> str:
        """The folder of its state for ``date``."""
        return keys.dataset(date, str(self.kind), self.name)

    def data_prefix(self, date: dt.date) -> str:
        """The prefix of every data file it has for ``date``."""
        return f"{tmdb_prefix(self.kind, date)}{self.name}-"

    def file_key(self, date: dt.date, number: int) -> str:
        return tmdb_key(self.kind, date, self.name, number, self.digits)

    def file_number(self, batch: int, piece: int) -> int:
        """The file number of piece ``piece`` (from 1) of batch ``batch`` (from 1)."""
        stride: int = PIECE_STRIDE * 10 ** (self.digits - 5)
        if batch >= stride:
            raise RunError(
                f"batch {batch}: a dataset of over {stride * MAX_RECORDS} records does not fit "
                "the file numbering"
            )
        number: int = batch + stride * (piece - 1)
        if number >= 10**self.digits:
            raise RunError(f"batch {batch} needs more than 9 files of 10 MB")
        return number

    def cursor(self) -> str:
        return keys.cursor(str(self.kind), self.name)

    @property
    def genre_number(self) -> int:
        """TMDB's id of its genre (0: no genre)."""
        return 0


@dataclass(frozen=True, slots=True)
class GenreDataset(Dataset):
    """One genre's movies, or the collections they belong to."""

    # Not part of what the dataset is: a record may name a genre by its slug alone.
    genre_id: int = field(default=0, compare=False)
    slug: str = ""

    @property
    def name(self) -> str:
        return self.slug

    @property
    def genre_number(self) -> int:
        return self.genre_id


@dataclass(frozen=True, slots=True)
class CatalogueDataset(Dataset):
    """Every movie of the day's ID export, or every collection of the collection export:
    a million records, so its files are numbered on six digits."""

    digits: ClassVar[int] = 6

    @property
    def name(self) -> str:
        return CATALOGUE


def named(kind: Kind, name: str, genre_id: int = 0) -> Dataset:
    """The dataset a stored name stands for (a queue message's, a state folder's): a
    genre's, unless the name is one of the datasets that are not a genre's."""
    scope = _NOT_GENRES.get(name)
    return scope(kind) if scope is not None else GenreDataset(kind, genre_id, name)


_NOT_GENRES: dict[str, type[CatalogueDataset]] = {CATALOGUE: CatalogueDataset}


class PlanRef(Protocol):
    """What the pool, the sink and the markers need of a plan, whichever its dataset."""

    @property
    def dataset(self) -> Dataset: ...

    @property
    def date(self) -> dt.date: ...

    @property
    def plan_id(self) -> str: ...

    @property
    def refresh(self) -> str: ...

    @property
    def append(self) -> tuple[str, ...]:
        """The sub-resources its records are fetched with (``append_to_response``)."""
        ...
