"""A batch message: which batch of which frozen plan to fetch. The one owner of its body.

The body names the plan by its key parts and its id, and the batch by number and size
(a short last batch's size depends on the run's target): the worker reads the plan from
the lake and takes the batch's ids from it, so a message stays a few hundred bytes
whatever the batch. A message whose plan was replaced since (another plan id) is stale.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import orjson

from ingest.errors import InputError
from ingest.lake.keys import Kind
from ingest.state.dataset import Dataset, PlanRef, named
from ingest.state.plan import BATCH_SIZE, Batch, Plan

# What became of one batch message.
BatchOutcome = Literal["written", "already_done", "stale", "failed", "stopped", "wrong_lake"]
# Outcomes after which the message is deleted.
SETTLED: frozenset[BatchOutcome] = frozenset({"written", "already_done", "stale"})

VERSION = 1


@dataclass(frozen=True, slots=True)
class BatchMessage:
    kind: Kind
    genre_id: int
    genre: str
    date: dt.date
    plan_id: str
    batch: int
    size: int
    # Movies: how many of the plan's ids the run covers (its target), and whether their
    # collections follow once every batch of them is in the lake.
    target: int = 0
    then_collections: bool = False
    # The lake the plan is in (its absolute path or URI): a worker on another lake would
    # find no such plan there, and must say so rather than drop the batch as stale.
    lake: str | None = None

    @classmethod
    def of(
        cls, plan: PlanRef, batch: Batch, target: int, lake: str, *, then_collections: bool = False
    ) -> BatchMessage:
        return cls(
            plan.dataset.kind,
            plan.dataset.genre_number,
            plan.dataset.name,
            plan.date,
            plan.plan_id,
            batch.number,
            len(batch.ids),
            target,
            then_collections,
            lake,
        )

    @property
    def dataset(self) -> Dataset:
        return named(self.kind, self.genre, self.genre_id)

    def batch_of(self, plan: Plan) -> Batch:
        return plan.batch(self.batch, self.target or len(plan.ids))

    @property
    def name(self) -> str:
        """How logs name it: ``war movies 3``."""
        return f"{self.genre} {self.kind} {self.batch}"

    def body(self) -> str:
        return orjson.dumps(
            {
                "v": VERSION,
                "kind": self.kind,
                "genre": {"id": self.genre_id, "slug": self.genre},
                "date": self.date.isoformat(),
                "plan_id": self.plan_id,
                "batch": self.batch,
                "size": self.size,
                "target": self.target,
                "then_collections": self.then_collections,
                "lake": self.lake,
            }
        ).decode()

    @classmethod
    def parse(cls, body: str) -> BatchMessage:
        """The message in ``body``; ``InputError`` when it is not one of ours."""
        try:
            d = orjson.loads(body)
            if d.get("v") != VERSION:
                raise ValueError(f"version {d.get('v')!r}, expected {VERSION}")
            message = cls(
                kind=Kind(d["kind"]),
                genre_id=int(d["genre"]["id"]),
                genre=str(d["genre"]["slug"]),
                date=dt.date.fromisoformat(d["date"]),
                plan_id=str(d["plan_id"]),
                batch=int(d["batch"]),
                size=int(d["size"]),
                target=int(d["target"]),
                then_collections=bool(d["then_collections"]),
                lake=None if d.get("lake") is None else str(d["lake"]),
            )
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a batch message ({type(exc).__name__}: {exc}): {body[:80]!r}") from None
        if message.batch < 1 or not 0 < message.size <= BATCH_SIZE:
            raise InputError(f"batch message with batch {message.batch} of size {message.size}")
        return message
