"""A lake's listings, each prefix read once: what ``status`` shares between its parts.

A catalogue day's state is some 22,000 keys (a done-marker and a file per batch): listed
from S3 at 1,000 keys a page, each listing costs seconds. ``Listing`` lists a *root*
once (``read``, several at once with ``read_all``) and answers any prefix under a root it
holds from that copy; a prefix under no root it holds is listed (and kept) on first use.
It is a snapshot: keys written after a root was read are not in it, which is what one
``status`` invocation wants (one consistent view) and what a run must not use.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Iterable

from ingest.lake import Lake


class Listing:
    def __init__(self, lake: Lake) -> None:
        self._lake = lake
        # Root -> its keys, sorted (``Lake.list`` answers in order).
        self._roots: dict[str, list[str]] = {}

    async def read(self, root: str) -> None:
        if self._root_of(root) is None:
            self._roots[root] = sorted(await self._lake.list(root))

    async def read_all(self, roots: Iterable[str]) -> None:
        """List every root at once (their listings overlap on the wire)."""
        async with asyncio.TaskGroup() as tg:
            for root in roots:
                tg.create_task(self.read(root))

    async def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, in order."""
        root = self._root_of(prefix)
        if root is None:
            await self.read(prefix)
            root = prefix
        held = self._roots[root]
        out = []
        for i in range(bisect_left(held, prefix), len(held)):
            if not held[i].startswith(prefix):
                break
            out.append(held[i])
        return out

    def _root_of(self, prefix: str) -> str | None:
        return next((r for r in self._roots if prefix.startswith(r)), None)
