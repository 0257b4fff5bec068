"""``python -m ingest.standin``: serve the TMDB stand-in until SIGINT/SIGTERM.

Once it serves it prints one JSON line on stdout, ``{"event": "standin_ready", "url": ...}``
(what ``ingest.standin.process`` waits for), and a line for people on stderr; when it stops,
its counters as one JSON line on stdout. Clients authenticate with the stand-in's own
token or key (``ingest.standin.STANDIN_TOKEN`` / ``STANDIN_API_KEY``): made-up values, not
secrets, so both ready lines name the token a client sends.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from itertools import islice

import orjson

from ingest.standin.app import Standin
from ingest.standin.bodies import GENRE_NAMES
from ingest.standin.catalog import Catalog
from ingest.standin.constants import STANDIN_API_KEY, STANDIN_TOKEN
from ingest.standin.gate import RATE_MODELS
from ingest.standin.hostile import ITEM_FAULTS, PAGE_FAULTS
from ingest.standin.process import READY_EVENT
from ingest.standin.records import DailyChange
from ingest.standin.tv_bodies import TV_GENRE_NAMES, WAR_POLITICS
from ingest.standin.tv_catalog import DEFAULT_TV_SIZES, TvCatalog
from ingest.standin.universe import Universe

_RATES = DailyChange()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ingest.standin",
        description=(
            "Serve the TMDB stand-in: a synthetic catalogue with TMDB's API v3 shapes, limits and "
            "faults, until Ctrl-C. Every one of TMDB's 19 movie genres has movies; --crime, --war "
            "and --genre set exactly how many a genre has. It serves TMDB's TV API too, over series "
            "of TMDB's 16 TV genres (--tv-crime, --tv-war-politics, --tv-genre; default 300 Crime and "
            "150 War & Politics), some sharing their id with a movie, and their daily export. "
            "Clients send the token of its ready line."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8765, help="0: any free port (the ready line names it)")
    p.add_argument("--crime", type=int, default=0, help="movies in Crime (genre id 80)")
    p.add_argument("--war", type=int, default=0, help="movies in War (genre id 10752)")
    p.add_argument("--genre", action="append", default=[], metavar="ID=N", help="another genre, e.g. 18=5000")
    p.add_argument("--tv-crime", type=int, default=None, metavar="N", help="series in Crime (TV genre id 80)")
    p.add_argument(
        "--tv-war-politics",
        type=int,
        default=None,
        metavar="N",
        help="series in War & Politics (TV genre id 10768); past 10000, discover's 500 pages "
        "cannot list them all",
    )
    p.add_argument(
        "--tv-genre", action="append", default=[], metavar="ID=N", help="another TV genre, e.g. 18=500"
    )
    p.add_argument("--no-tv", action="store_true", help="serve no series (TV genres only)")
    p.add_argument(
        "--seed", type=int, default=1, help="the catalogue's random seed: same seed, same catalogue"
    )
    p.add_argument("--day", type=int, default=0, help="the day of its calendar to serve (0: as seeded)")
    p.add_argument(
        "--changed-per-day",
        type=float,
        default=_RATES.changed,
        help="share of the movies (and of the series) changed each day",
    )
    p.add_argument(
        "--added-per-day",
        type=float,
        default=_RATES.added,
        help="new movies (and series) each day, as a share",
    )
    p.add_argument(
        "--removed-per-day", type=float, default=_RATES.removed, help="share removed each day (404 after)"
    )
    p.add_argument("--no-token", action="store_true", help="refuse the bearer token (only the v3 key works)")
    p.add_argument("--rate", type=float, default=None, help="enforced requests/s (see --rate-model)")
    p.add_argument(
        "--rate-model",
        choices=RATE_MODELS,
        default="sliding",
        help="how --rate is enforced: over a sliding second, or by a token bucket (default: %(default)s)",
    )
    p.add_argument(
        "--burst", type=float, default=None, help="the token bucket's size in requests (default: --rate)"
    )
    p.add_argument("--no-retry-after", action="store_true", help="429s without Retry-After")
    p.add_argument(
        "--max-connections", type=int, default=None, help="requests in flight past this are answered 429"
    )
    p.add_argument("--latency-ms", type=float, default=0.0, help="mean added latency of each answer")
    p.add_argument("--failure-rate", type=float, default=0.0, help="share of random 5xx/429s")
    p.add_argument("--stall-rate", type=float, default=0.0, help="share of answers that hang for --stall-s")
    p.add_argument("--stall-s", type=float, default=5.0, help="how long a stalled answer hangs")
    p.add_argument(
        "--hostile",
        action="append",
        default=[],
        metavar="ID=FAULT",
        help=f"a hostile 200 for this movie or collection id: {', '.join(ITEM_FAULTS)}",
    )
    p.add_argument("--page-fault", choices=PAGE_FAULTS, default=None, help="every discover page broken so")
    p.add_argument("--drip-s", type=float, default=1.0, help="seconds between the bytes of a drip")
    p.add_argument("--huge-bytes", type=int, default=50_000_000, help="size of a huge record")
    p.add_argument(
        "--catalogue",
        type=int,
        default=0,
        metavar="N",
        help="serve a whole catalogue of N movies and its daily ID exports (up to 1.1M)",
    )
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def catalog_for(args: argparse.Namespace) -> Catalog:
    sizes: dict[int, int] = {}
    if args.crime:
        sizes[80] = args.crime
    if args.war:
        sizes[10752] = args.war
    for spec in args.genre:
        genre_id, _, count = spec.partition("=")
        sizes[int(genre_id)] = int(count)
    daily = DailyChange(args.changed_per_day, args.added_per_day, args.removed_per_day)
    catalog = Catalog.synthetic(sizes or {80: 300, 10752: 150}, seed=args.seed, daily=daily)
    return catalog.at_day(args.day)


def tv_catalog_for(args: argparse.Namespace, catalog: Catalog, universe: Universe | None) -> TvCatalog:
    """Day 0 of the TV catalogue (the stand-in moves it to the movies' day); some series
    take ids of the movies served: the ``universe``'s first ones when there is one (its
    details answer ``/movie/{id}``), else ``catalog``'s."""
    if args.no_tv:
        return TvCatalog(seed=args.seed)
    sizes: dict[int, int] = {}
    if args.tv_crime is not None:
        sizes[80] = args.tv_crime
    if args.tv_war_politics is not None:
        sizes[WAR_POLITICS] = args.tv_war_politics
    for spec in args.tv_genre:
        genre_id, _, count = spec.partition("=")
        sizes[int(genre_id)] = int(count)
    daily = DailyChange(args.changed_per_day, args.added_per_day, args.removed_per_day)
    movie_ids = sorted(catalog.movies) if universe is None else list(islice(universe.candidates(0), 50_000))
    return TvCatalog.synthetic(sizes or DEFAULT_TV_SIZES, seed=args.seed, movie_ids=movie_ids, daily=daily)


def universe_for(args: argparse.Namespace) -> Universe | None:
    if not args.catalogue:
        return None
    daily = DailyChange(args.changed_per_day, args.added_per_day, args.removed_per_day)
    return Universe(args.catalogue, seed=args.seed, daily=daily)


async def serve(args: argparse.Namespace) -> None:
    catalog = catalog_for(args)
    universe = universe_for(args)
    knobs = dict(
        token=None if args.no_token else STANDIN_TOKEN,
        api_key=STANDIN_API_KEY,
        rate_limit=args.rate,
        rate_model=args.rate_model,
        burst=args.burst,
        retry_after=not args.no_retry_after,
        max_connections=args.max_connections,
        latency_s=args.latency_ms / 1000,
        failure_rate=args.failure_rate,
        stall_rate=args.stall_rate,
        stall_s=args.stall_s,
        hostile={int(i): f for i, _, f in (spec.partition("=") for spec in args.hostile)},
        page_fault=args.page_fault,
        drip_s=args.drip_s,
        huge_bytes=args.huge_bytes,
        seed=args.seed,
        universe=universe,
        tv=tv_catalog_for(args, catalog, universe),
    )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    standin = Standin(catalog, **knobs)
    # TMDB counts a request at its edge, whatever its servers are doing; this one counts it
    # when its event loop reads it. So what would keep the loop busy is done before the
    # ready line: the discover entries drawn (20 pages at once took 30 ms), and the
    # catalogue, never freed, kept out of the collector's full sweeps (up to 17 ms each).
    catalog.warm()
    gc.collect()
    gc.freeze()
    async with standin.serve(args.host, args.port):
        ready = {
            "event": READY_EVENT,
            "url": standin.url,
            "token": STANDIN_TOKEN if knobs["token"] else None,
            "day": catalog.day,
            "date": catalog.date.isoformat(),
            "movies": args.catalogue or len(catalog.movies),
            "collections": len(catalog.collections),
            "series": len(standin.tv.series),
        }
        print(orjson.dumps(ready).decode(), flush=True)
        sized = [f"{g}={len(catalog.genre_ids(g))}" for g in catalog.genres]
        genres = ", ".join([*sized, f"{len(GENRE_NAMES) - len(sized)} more"])
        tv = standin.tv
        tv_sized = [f"{g}={len(tv.genre_ids(g))}" for g in tv.genres]
        tv_genres = ", ".join([*tv_sized, f"{len(TV_GENRE_NAMES) - len(tv_sized)} more"])
        print(
            f"TMDB stand-in (synthetic catalogue) at {standin.url}: genres {genres}, "
            f"TV genres {tv_genres}, "
            f"day {catalog.day} = {catalog.date}; token {ready['token'] or '(refused)'} "
            f"(or api_key={STANDIN_API_KEY}); counters at {standin.url}/__stats",
            file=sys.stderr,
            flush=True,
        )
        await done.wait()
        print(orjson.dumps(standin.counters.as_dict()).decode(), flush=True)


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
