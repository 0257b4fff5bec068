"""Hostile answers: the stand-in's faults that a client must not take at their word.

A TMDB (or a proxy in front of it) can answer 200 with the wrong thing. These are the ways
the stand-in does so on purpose, one per fault, for the item ids a test names
(``FakeTmdb(hostile={id: "wrong_id"})``) or for every discover page (``page_fault=...``):

    wrong_id ...... the right body, its id one more than asked
    string_id ..... the right body, its id a string ("603")
    swapped ....... another item's body, whole (its own id)
    drip .......... the right body, one byte every ``drip_s`` seconds
    huge .......... the right body, padded to ``huge_bytes``

    missing_id .... a discover page whose first result has no id
    null_results .. a discover page whose ``results`` is null
    no_total ...... a discover page without ``total_results``
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import orjson
from aiohttp import web

ITEM_FAULTS: Final = ("wrong_id", "string_id", "swapped", "drip", "huge")
PAGE_FAULTS: Final = ("missing_id", "null_results", "no_total")


def check_faults(items: dict[int, str], page: str | None) -> None:
    """Refuse a fault name the stand-in does not know (a typo would test nothing)."""
    for name in items.values():
        if name not in ITEM_FAULTS:
            raise ValueError(f"unknown item fault {name!r}: one of {', '.join(ITEM_FAULTS)}")
    if page is not None and page not in PAGE_FAULTS:
        raise ValueError(f"unknown page fault {page!r}: one of {', '.join(PAGE_FAULTS)}")


def item_body(fault: str, body: dict[str, Any], other: dict[str, Any], huge_bytes: int) -> dict[str, Any]:
    """The body answered for an item under ``fault`` (``other``: another item's body)."""
    if fault == "wrong_id":
        return body | {"id": int(body["id"]) + 1}
    if fault == "string_id":
        return body | {"id": str(body["id"])}
    if fault == "swapped":
        return other
    if fault == "huge":
        size = len(orjson.dumps(body))
        return body | {"padding": "x" * max(0, huge_bytes - size - len(',"padding":""'))}
    return body


def page_body(fault: str | None, page: dict[str, Any]) -> dict[str, Any]:
    """A discover page as answered under ``fault``."""
    if fault == "missing_id" and page.get("results"):
        first = {k: v for k, v in page["results"][0].items() if k != "id"}
        return page | {"results": [first, *page["results"][1:]]}
    if fault == "null_results":
        return page | {"results": None}
    if fault == "no_total":
        return {k: v for k, v in page.items() if k != "total_results"}
    return page


async def drip(request: web.Request, body: dict[str, Any], every_s: float) -> web.StreamResponse:
    """Answer 200 with ``body``, one byte every ``every_s`` seconds (a stalled proxy's way)."""
    data = orjson.dumps(body)
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json; charset=utf-8"})
    response.content_length = len(data)
    await response.prepare(request)
    for i in range(len(data)):
        await response.write(data[i : i + 1])
        await asyncio.sleep(every_s)
    await response.write_eof()
    return response
