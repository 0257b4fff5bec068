"""The collections claim: which queue worker sends a genre's collection batches.

When a genre's last movie batch lands on the queue, the worker that landed it freezes the
collection plan and sends its batches, once: the lake's conditional create of
``enqueued-<plan id>`` beside the collection plan decides which worker, whatever the
timing. The claim says ``"sent": false`` until they are sent; a worker that dies in
between leaves it so, and whoever finds it older than ``CLAIM_GRACE_S`` sends them instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson

from ingest.lake import Lake
from ingest.state.dataset import PlanRef
from ingest.state.versions import CURRENT, check, version_of

# An unsent collections claim older than this was left by a worker that died between
# claiming and sending: a live one sends within seconds of its claim.
CLAIM_GRACE_S = 60.0

ClaimState = Literal["sent", "pending", "abandoned"]


def claim_key(collections: PlanRef) -> str:
    """Where the one worker that sends a collection plan's batches says so."""
    return f"{collections.dataset.state(collections.date)}enqueued-{collections.plan_id}"


def claim_body(by: str, *, sent: bool) -> bytes:
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return orjson.dumps({"version": CURRENT["claim"], "claimed_at": at, "sent": sent, "by": by})


async def create_claim(lake: Lake, collections: PlanRef, by: str) -> bool:
    """Claim the sending of ``collections``' batches; False when another worker holds it."""
    return await lake.create(claim_key(collections), claim_body(by, sent=False))


async def mark_sent(lake: Lake, collections: PlanRef, by: str) -> None:
    await lake.write(claim_key(collections), claim_body(by, sent=True))


async def read_claim(lake: Lake, collections: PlanRef) -> ClaimState:
    key = claim_key(collections)
    return claim_state(await lake.read(key), key=key)


def claim_state(data: bytes | None, now: dt.datetime | None = None, key: str = "a claim") -> ClaimState:
    """A claim's state: its batches were sent, are being sent, or never will be by its
    worker. A claim that cannot be read, or was written before claims said, counts as sent."""
    try:
        body: Any = orjson.loads(data or b"")
    except orjson.JSONDecodeError:
        return "sent"
    if not isinstance(body, dict):
        return "sent"
    check("claim", key, version_of(body))
    if body.get("sent") is not False:
        return "sent"
    try:
        at = dt.datetime.fromisoformat(str(body.get("claimed_at")))
    except ValueError:
        return "abandoned"
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    age = ((now or dt.datetime.now(dt.UTC)) - at).total_seconds()
    return "pending" if age < CLAIM_GRACE_S else "abandoned"
