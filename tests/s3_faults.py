"""A fault-injecting HTTP proxy in front of the moto S3 server.

The pipeline talks real S3 protocol to it (``AWS_ENDPOINT_URL`` points here); each request
is forwarded to moto unchanged unless a rule says to answer it with an S3 error instead.
Rules match on the operation as S3 sees it (method + query), e.g. the 2nd part's first
attempt. A ``Stall`` holds a matching request unanswered (a store that hangs), until the
test lifts it or the proxy closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Fault:
    """Answer ``times`` requests that ``match`` with ``status``/``code`` instead of forwarding."""

    match: Callable[[web.Request], bool]
    status: int
    code: str
    times: int = 1
    hits: int = 0


@dataclass
class Stall:
    """Hold every request that ``match`` unanswered while the stall is on."""

    match: Callable[[web.Request], bool]
    hits: int = 0
    lifted: asyncio.Event = field(default_factory=asyncio.Event)

    def lift(self) -> None:
        """Answer the held requests (forwarded now) and every one after."""
        self.lifted.set()


@dataclass
class FaultyS3:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    stalls: list[Stall] = field(default_factory=list)
    # Request headers dropped on the way (lower case), as a gateway that ignores them does.
    strip: set[str] = field(default_factory=set)
    # (method, query, lower-cased headers) of every request seen, in order.
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    # (method, path) of every request seen, in the same order.
    paths: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers_seen = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append((request.method, request.query_string, headers_seen))
        self.paths.append((request.method, request.path))
        for stall in self.stalls:
            if not stall.lifted.is_set() and stall.match(request):
                stall.hits += 1
                await stall.lifted.wait()
        for fault in self.faults:
            if fault.hits < fault.times and fault.match(request):
                fault.hits += 1
                xml = (
                    f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{fault.code}</Code>"
                    f"<Message>injected by the test</Message></Error>"
                )
                return web.Response(status=fault.status, body=xml.encode(), content_type="application/xml")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP | self.strip}
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            async with session.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body
            ) as resp:
                payload = await resp.read()
                out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
                if request.method == "HEAD" and "Content-Length" in resp.headers:
                    # A HEAD answer carries the object's length without its body.
                    out["Content-Length"] = resp.headers["Content-Length"]
                    response = web.Response(status=resp.status, headers=out)
                    return response
                return web.Response(status=resp.status, body=payload, headers=out)


def is_part(number: int) -> Callable[[web.Request], bool]:
    return lambda r: r.method == "PUT" and r.query.get("partNumber") == str(number)


@asynccontextmanager
async def faulty_s3(upstream: str) -> AsyncIterator[FaultyS3]:
    proxy = FaultyS3(upstream)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    # handler_cancellation: a client that gives up on a stalled request frees its handler.
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    proxy.url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        await runner.cleanup()
