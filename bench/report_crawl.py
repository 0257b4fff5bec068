"""RESULTS.md's crawl sections: the crawl at TMDB's limits (against the seed's way and the
rate's ceiling), how its cost grows with the genre, the daily refresh; and their targets."""

from __future__ import annotations

from crawl import CrawlResult, Limits, ceiling_s, pages_for
from refresh import RefreshResult
from targets import MIB, Add, Target


def _active(r: CrawlResult) -> str:
    a = r.stats.get("active_s")
    return f"{a:.1f}" if a else "-"


def _active_share(r: CrawlResult, lim: Limits) -> str:
    a = r.stats.get("active_s")
    if not a:
        return "-"
    needed = pages_for(r.movies) + r.movies + r.collections
    return f"{(needed - 1) / lim.rate_per_s / a:.1%}"


def crawl_section(
    add: Add, lim: Limits, genre_size: int, seed_movies: int, crawls: dict[str, CrawlResult]
) -> None:
    add("\n## TMDB crawl (stage 2) at TMDB's limits\n")
    add(
        f"Fake TMDB: {lim.rate_per_s:g} requests/s enforced over a sliding 1 s window "
        f"(429 beyond it), {lim.connections} requests in flight (429 beyond it), "
        f"{lim.latency_ms:g} ms latency on average (uniform 0.5x-1.5x); a genre of "
        f"{genre_size:,} movies. The seed's way is sequential, so its rate does not "
        f"depend on how far it goes: it crawls the first {seed_movies:,} movies.\n"
    )
    add(
        "| runner | movies | collections | seconds (wall) | movies/s | requests | "
        "requests/movie | 429s (share) | ceiling s | share of ceiling (wall) | "
        "active s | share of ceiling (active) | peak RSS MiB |"
    )
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in crawls.items():
        ceil = ceiling_s(r.movies, r.collections, lim)
        add(
            f"| {name} | {r.movies:,} | {r.collections:,} | {r.seconds:.1f} | "
            f"{r.movies_per_s:.2f} | {r.requests:,} | "
            f"{(r.requests - r.collections) / r.movies:.3f} | {r.status_429} "
            f"({r.status_429 / max(1, r.requests):.2%}) | {ceil:.1f} | "
            f"{ceil / r.seconds:.1%} | {_active(r)} | {_active_share(r, lim)} | "
            f"{r.measured.peak_rss_bytes / MIB:.0f} |"
        )
    n = genre_size
    ceil_mps = n / ceiling_s(n, 0, lim)
    add(
        f"| ceiling (requests needed / {lim.rate_per_s:g} per s) | {n:,} | - | "
        f"{ceiling_s(n, 0, lim):.1f} | {ceil_mps:.2f} | {pages_for(n) + n:,} | "
        f"{(pages_for(n) + n) / n:.3f} | 0 | - | 100% | - | 100% | - |"
    )
    add(
        "\n- *seconds (wall)*: the whole process, interpreter start to exit, as a user "
        "waits for it. *active s*: from the first request the TMDB stand-in received to the "
        "last; *share of ceiling (active)* = (requests needed - 1) / rate over that "
        "window, i.e. how well the client paces itself once it runs."
    )
    add(
        "- *requests/movie*: every request the fake received (discover pages, details, "
        "retries, 429s) except collection requests, per movie stored; one discover page "
        "per 20 movies makes the floor 1.050."
    )
    seed = crawls.get("seed (tmdbv3api)")
    if seed:
        bound = (n / ceiling_s(n, 0, lim)) / seed.movies_per_s
        add(
            f"\nAt these limits no client can pass {ceil_mps:.1f} movies/s, so the most any "
            f"client can be ahead of the seed's way (loopback, new connections free) is "
            f"{bound:.1f}x."
        )
    hs = [k for k in crawls if "per new connection" in k]
    if hs:
        add(
            "\nRows marked *ms per new connection* go through `bench/handshake_proxy.py`, "
            "which delays every new TCP connection by that much before relaying it: the "
            "TCP and TLS 1.3 handshakes (one round trip each) that a connection to TMDB "
            "costs over the internet at 50 ms. tmdbv3api opens a connection per request; "
            "the pipeline keeps its connections."
        )


def crawl_targets(lim: Limits, crawls: dict[str, CrawlResult], targets: list[Target]) -> None:
    seed = crawls.get("seed (tmdbv3api)")
    for name, r in crawls.items():
        if not name.startswith("pipeline"):
            continue
        ceil = ceiling_s(r.movies, r.collections, lim)
        targets.append(
            (
                f"crawl [{name}]: >= 95% of the ceiling (wall clock)",
                f"{ceil / r.seconds:.1%}",
                ceil / r.seconds >= 0.95,
            )
        )
        if r.stats.get("active_s"):
            needed = pages_for(r.movies) + r.movies + r.collections
            share = (needed - 1) / lim.rate_per_s / r.stats["active_s"]
            targets.append(
                (f"crawl [{name}]: >= 95% of the ceiling (active window)", f"{share:.1%}", share >= 0.95)
            )
        share = r.status_429 / max(1, r.requests)
        targets.append(
            (
                f"crawl [{name}]: <= 1% of requests answered 429",
                f"{share:.2%} ({r.status_429} of {r.requests})",
                share <= 0.01,
            )
        )
        rpm = (r.requests - r.collections) / r.movies
        coll_req = int(r.stats["requests"].get("collection", 0))
        ok = rpm <= 1.05 + 1e-9 and coll_req <= r.collections
        targets.append(
            (
                f"crawl [{name}]: <= 1.05 requests/movie + 1 per collection",
                f"{rpm:.3f} per movie; {coll_req} collection requests for {r.collections} collections",
                ok,
            )
        )
        # Compare like with like: the pipeline run with the seed run of the same network.
        twin = crawls.get(name.replace("pipeline", "seed (tmdbv3api)", 1)) or seed
        if twin and "--collections" not in name:
            x = r.movies_per_s / twin.movies_per_s
            targets.append(
                (
                    f"crawl [{name}]: >= 9x the seed's way",
                    f"{x:.1f}x ({r.movies_per_s:.1f} vs {twin.movies_per_s:.2f} movies/s)",
                    x >= 9,
                )
            )


def scale_section(add: Add, sl: Limits, genre_size: int, scale: list[CrawlResult]) -> None:
    add("\n## How crawl cost grows with the genre\n")
    add(
        f"The same crawl (pipeline, movies only) at 1x, 4x and 16x the genre; rate limit "
        f"raised to {sl.rate_per_s:g}/s (at TMDB's 40/s, 16x would take "
        f"{ceiling_s(genre_size * 16, 0, Limits()) / 60:.0f} min and only measure the "
        f"limit), {sl.connections} requests in flight, {sl.latency_ms:g} ms latency.\n"
    )
    add(
        "| genre size | seconds | movies/s | ms per movie | requests/movie | 429s | "
        "peak RSS MiB | RSS vs 1x |"
    )
    add("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = scale[0].measured.peak_rss_bytes
    for r in scale:
        add(
            f"| {r.movies:,} | {r.seconds:.1f} | {r.movies_per_s:.1f} | "
            f"{1000 * r.seconds / r.movies:.2f} | {r.requests / r.movies:.3f} | "
            f"{r.status_429} | {r.measured.peak_rss_bytes / MIB:.0f} | "
            f"{r.measured.peak_rss_bytes / base:.2f}x |"
        )


def refresh_section(add: Add, r: RefreshResult, targets: list[Target]) -> None:
    lim, inc, full = r.limits, r.incremental, r.full
    churn = ", ".join(f"{v:.1%} {k}" for k, v in r.churn.items())
    add("\n## Daily refresh: day 1 incremental against day 1 full\n")
    add(
        f"A genre of {r.genre_size:,} movies (and their collections) crawled in full on day 0 "
        f"(set-up, not measured); on day 1 the stand-in's catalogue has moved ({churn} of the "
        f"movies per day). Both day-1 runs at {lim.rate_per_s:g} requests/s, "
        f"{lim.connections} in flight, {lim.latency_ms:g} ms latency, each against a fresh "
        "stand-in; both read back from the bucket.\n"
    )
    add(
        "| run | movies written | collections written | requests (stand-in) | "
        "of which changes feed | discover | seconds (wall) |"
    )
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for run in (inc, full):
        req = run.stats["requests"]
        add(
            f"| {run.label} | {len(run.movie_ids):,} | {run.collections:,} | {run.requests:,} | "
            f"{req.get('changes', 0):,} | {req.get('discover', 0):,} | {run.seconds:.1f} |"
        )
    s = inc.summary
    add(
        f"\nIncremental: {s['changes_listed']:,} ids in the changes feed, "
        f"{s['ids_changed']:,} members changed, {s['ids_new']:,} new, "
        f"{s['ids_unchanged_skipped']:,} unchanged (skipped), {s['ids_removed']:,} removed; "
        f"its own estimate of a full run: {s['full_run_requests']:,} requests."
    )
    add(f"\n**Full / incremental: {r.request_ratio:.1f}x the requests, {r.time_ratio:.1f}x the seconds.**")
    targets.append(
        (
            "daily refresh at 3% churn: >= 10x fewer requests than a full run",
            f"{r.request_ratio:.1f}x ({inc.requests:,} vs {full.requests:,})",
            r.request_ratio >= 10,
        )
    )
