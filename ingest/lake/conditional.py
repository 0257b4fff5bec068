"""Whether an S3 store honours ``If-None-Match: *``, found out once per lake and remembered.

A dataset's first plan is created with a conditional write so that runs of one date at
once all go on with one plan (``ingest.state.plan.create_plan``). A store that ignores the
header (some S3-compatible stores and older gateways answer 200 and overwrite) would let
each run freeze its own plan and store movies twice. So before the lake's first
conditional create, a probe object is created twice under the store prefix the state
package names (``StoreMeta``): a store that honours the header refuses the second (412). The answer is kept in
its ``conditional-writes.json``, so later runs read it instead of probing (delete
it to probe again).

A store that does not honour it is refused (``ConfigError``, exit 2) unless the lake is
declared single-writer (``[lake] single_writer = true``): then only one run at a time
writes to it, and nothing needs arbitrating.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Protocol

import orjson
import structlog

from ingest.errors import ConfigError
from ingest.lake import StoreMeta

log = structlog.get_logger(__name__)


class _Store(Protocol):
    async def put_if_absent(self, key: str, data: bytes) -> bool: ...

    async def read(self, key: str) -> bytes | None: ...

    async def write(self, key: str, data: bytes, *, sha256: str | None = None) -> None: ...


class ConditionalWrites:
    """One lake's knowledge of its store; ``ensure`` before each conditional create."""

    __slots__ = ("_honoured", "_lock", "_meta", "_single_writer", "_where")

    def __init__(self, where: str, meta: StoreMeta, *, single_writer: bool) -> None:
        # Where the lake is, as messages show it (bucket and endpoint, no secret).
        self._where = where
        # Where the finding is kept.
        self._meta = meta
        self._single_writer = single_writer
        # None until known: read from the record, or probed.
        self._honoured: bool | None = None
        # Concurrent first creates probe once.
        self._lock = asyncio.Lock()

    async def ensure(self, store: _Store) -> None:
        """Return when conditional creates on ``store`` can be trusted (or need not be);
        raise ``ConfigError`` when they cannot and the lake is not single-writer."""
        if self._honoured is None:
            async with self._lock:
                if self._honoured is None:
                    self._honoured = await _known(store, self._meta)
                    if self._honoured is None:
                        self._honoured = await _probe(store, self._meta)
        if not self._honoured and not self._single_writer:
            raise ConfigError(
                f"the S3 store of {self._where} ignores If-None-Match: * (conditional writes), so "
                "runs of one date at once could each freeze their own plan and store movies twice: "
                "use a store that honours it, or set [lake] single_writer = true in config.toml if "
                "only one run at a time writes to this lake (the finding is kept in "
                f"{self._meta.conditional_record})"
            )


async def _known(store: _Store, meta: StoreMeta) -> bool | None:
    data = await store.read(meta.conditional_record)
    if data is None:
        return None
    try:
        honoured = orjson.loads(data)["honours_if_none_match"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return honoured if isinstance(honoured, bool) else None


async def _probe(store: _Store, meta: StoreMeta) -> bool:
    key = f"{meta.probe_prefix}{uuid.uuid4().hex[:12]}"
    first = await store.put_if_absent(key, b"first")
    second = await store.put_if_absent(key, b"second")
    honoured = first and not second and await store.read(key) == b"first"
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record = {"honours_if_none_match": honoured, "probed_at": at, "probe": key}
    await store.write(meta.conditional_record, orjson.dumps(record, option=orjson.OPT_INDENT_2))
    log.info("store_probed", honours_if_none_match=honoured, probe=key)
    return honoured
