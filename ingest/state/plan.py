"""Plans and batches: the frozen list of ids a dataset fetches. This module owns the
``plan.json`` format (``ingest.state.markers`` owns the done-markers' and says which batches
are in the lake): nothing else reads or writes it.

A *dataset* is one genre's movies (or collections) for one processing date. Its plan lives
at ``_ingest/YYYY/MM/DD/tmdb/<kind>-<genre>/plan.json``: the ids in order (popularity,
descending, for movies; first appearance in the movie plan, for collections), plus what
produced them. Batch *i* is plan ids ``100(i-1)+1 .. 100i`` and becomes file *i*; each
batch is an independent unit of work, so batches could be spread across processes.

Rules that make reruns safe:

- A plan only grows, by appending ids it does not hold yet; existing batches keep their
  ids, so files already written stay valid. A rerun reuses the plan without a single
  discover request when the plan covers the request (it is complete, or it was built for a
  ``--limit`` at least as large); otherwise discover runs again and appends.
- A run's *target* is the first ``limit`` ids of the plan, rounded up to a whole batch
  (all of them without a limit): a rerun with a smaller limit than the plan was built for
  keeps its batches whole instead of rewriting a file with fewer records.
- A batch counts as in the lake only through its done-marker, named for this plan's id
  (``ingest.state.markers``): deleting ``plan.json`` starts the dataset over, since the new
  plan has a new id and no old marker counts for it.
- A dataset's first plan is created, not written (``create_plan``): of runs planning the
  same dataset at once, one plan wins in the lake and the others adopt it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import structlog

from ingest.errors import LakeError
from ingest.lake import Lake
from ingest.lake.keys import Kind
from ingest.state.dataset import GenreDataset
from ingest.state.versions import CURRENT, upgrade

log = structlog.get_logger(__name__)

BATCH_SIZE = 100


@dataclass(frozen=True, slots=True)
class Batch:
    number: int
    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    kind: Kind
    genre_id: int
    genre: str
    date: dt.date
    ids: tuple[int, ...]
    # A fresh id per plan: markers of a plan that was deleted and rebuilt never count.
    plan_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    # Movies: the ids are the whole genre (no --limit below its size).
    complete: bool = False
    # Movies: the largest --limit the plan was built for (None once complete).
    limit: int | None = None
    # Collections: the movie plan they were drawn from, and how many of its ids.
    source_plan_id: str | None = None
    covered: int = 0
    # One entry per time discover (or the movie files) fed the plan: counts, gaps, when.
    history: tuple[dict[str, Any], ...] = ()
    # "full": the ids are every movie of the genre (a snapshot); "incremental": only those
    # new to it or changed since ``increment["since"]`` (ingest.tmdb.refresh).
    refresh: str = "full"
    # Incremental movie plans: the genre's members now, which the next run diffs against
    # (a full plan's ids are its members).
    members: tuple[int, ...] | None = None
    # Incremental movie plans: the changes window, the counts and the ids that left.
    increment: dict[str, Any] | None = None
    # The sub-resources its records were fetched with (``[tmdb] append``; format 2): a day
    # fetched with another list is no increment of this one.
    append: tuple[str, ...] = ()
    # Why a plan that could have been incremental is a full one (None: it was not asked
    # to be, or could not be: its first run, a --limit, ...).
    full_because: str | None = None

    @property
    def dataset(self) -> GenreDataset:
        return GenreDataset(self.kind, self.genre_id, self.genre)

    @property
    def genre_members(self) -> tuple[int, ...]:
        """The genre's movies when this plan was made (complete movie plans only)."""
        return self.ids if self.members is None else self.members

    def covers(self, limit: int | None) -> bool:
        """Whether the plan can serve a run with this --limit without enumerating again."""
        if self.complete:
            return True
        return limit is not None and self.limit is not None and self.limit >= limit

    def target(self, limit: int | None) -> int:
        """How many of the plan's ids a run with this --limit fetches: the first ``limit``,
        rounded up to a whole batch when the plan holds more, so that a smaller limit never
        cuts a batch the lake already holds whole."""
        if limit is None:
            return len(self.ids)
        return min(len(self.ids), -(-limit // BATCH_SIZE) * BATCH_SIZE)

    def batches(self, target: int) -> list[Batch]:
        """The batches of the plan's first ``target`` ids, in order."""
        count = min(target, len(self.ids))
        return [self.batch(n, count) for n in range(1, 1 + -(-count // BATCH_SIZE))]

    def batch(self, number: int, target: int) -> Batch:
        """Batch ``number`` (from 1) of the plan's first ``target`` ids: the one slicing
        rule, for a run and for a queue message alike."""
        start = (number - 1) * BATCH_SIZE
        return Batch(number, self.ids[start : min(start + BATCH_SIZE, target, len(self.ids))])

    def extended(self, new_ids: Sequence[int], **changes: Any) -> Plan:
        """The plan with ``new_ids`` appended (those it lacks, in their order)."""
        have = set(self.ids)
        added = tuple(dict.fromkeys(i for i in new_ids if i not in have))
        return replace(self, ids=self.ids + added, **changes)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "version": CURRENT["plan"],
                "kind": self.kind,
                "genre": {"id": self.genre_id, "slug": self.genre},
                "date": self.date.isoformat(),
                "plan_id": self.plan_id,
                "batch_size": BATCH_SIZE,
                "complete": self.complete,
                "limit": self.limit,
                "source_plan_id": self.source_plan_id,
                "covered": self.covered,
                "count": len(self.ids),
                "history": list(self.history),
                "refresh": self.refresh,
                "increment": self.increment,
                "append": list(self.append),
                "full_because": self.full_because,
                "ids": list(self.ids),
                **({} if self.members is None else {"members": list(self.members)}),
            },
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_json(cls, data: bytes, key: str) -> Plan:
        try:
            d = upgrade("plan", key, orjson.loads(data))
            return cls(
                kind=Kind(d["kind"]),
                genre_id=int(d["genre"]["id"]),
                genre=str(d["genre"]["slug"]),
                date=dt.date.fromisoformat(d["date"]),
                ids=tuple(int(i) for i in d["ids"]),
                plan_id=str(d["plan_id"]),
                complete=bool(d["complete"]),
                limit=d.get("limit"),
                source_plan_id=d.get("source_plan_id"),
                covered=int(d.get("covered", 0)),
                history=tuple(d.get("history", ())),
                refresh=str(d.get("refresh") or "full"),
                members=None if d.get("members") is None else tuple(int(i) for i in d["members"]),
                increment=d.get("increment"),
                append=tuple(str(a) for a in d["append"]),
                full_because=d.get("full_because"),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise LakeError(
                f"plan {key} is unreadable ({type(exc).__name__}: {exc}); delete it to plan "
                "this dataset again"
            ) from None


def plan_key(date: dt.date, kind: Kind, genre: str) -> str:
    return GenreDataset(kind, slug=genre).state(date) + "plan.json"


async def load_plan(lake: Lake, date: dt.date, kind: Kind, genre: str) -> Plan | None:
    key = plan_key(date, kind, genre)
    data = await lake.read(key)
    return None if data is None else Plan.from_json(data, key)


async def save_plan(lake: Lake, plan: Plan) -> None:
    await lake.write(plan_key(plan.date, plan.kind, plan.genre), plan.to_json())


async def create_plan(lake: Lake, plan: Plan) -> Plan:
    """Freeze a dataset's first plan, unless another process froze one first: then that
    one is returned, and every process goes on with the same plan (and plan id)."""
    key = plan_key(plan.date, plan.kind, plan.genre)
    body = plan.to_json()
    if await lake.create(key, body):
        # Verified: a store that let another run's write replace ours (it ignored the
        # condition) shows it here, and this run goes on with the plan the lake holds.
        held = await lake.read(key)
        if held == body:
            return plan
        if held is None:
            raise LakeError(f"plan {key} was created but cannot be read back; rerun")
        replaced = Plan.from_json(held, key)
        log.warning("plan_replaced_after_create", key=key, ours=plan.plan_id, held=replaced.plan_id)
        return replaced
    winner = await lake.read(key)
    if winner is None:
        raise LakeError(f"plan {key} was created by another run but cannot be read back; rerun")
    return Plan.from_json(winner, key)
