"""A loopback TCP relay that charges each new connection a network handshake.

On loopback a new connection is free; to TMDB over the internet it is not: a TCP
handshake and a TLS 1.3 handshake cost one round trip each before the first request can
go. This relay models exactly that and nothing else: each accepted connection waits
``--handshake-ms`` before it is relayed to the upstream (the TMDB stand-in), then bytes flow
both ways untouched. A client that reuses its connections (the pipeline: one session,
20 connections) pays it 20 times; one that opens a connection per request (tmdbv3api
calls ``requests.request`` without a session) pays it on every request.

    python bench/handshake_proxy.py --port P --upstream-port U --handshake-ms 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _main(args: argparse.Namespace) -> None:
    delay = args.handshake_ms / 1000

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        await asyncio.sleep(delay)
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", args.upstream_port)
        except OSError:
            cw.close()
            return
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_pipe(cr, uw))
            tg.create_task(_pipe(ur, cw))

    server = await asyncio.start_server(handle, "127.0.0.1", args.port, backlog=1024)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    async with server:
        print(f"relaying 127.0.0.1:{args.port} -> :{args.upstream_port}", flush=True)
        await done.wait()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream-port", type=int, required=True)
    p.add_argument("--handshake-ms", type=float, default=100)
    asyncio.run(_main(p.parse_args()))
