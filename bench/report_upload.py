"""RESULTS.md's CSV upload section and its charts: per server and link, each runner's
wall, CPU and peak RSS, paired ratios to boto3, the link's floor, and the upload targets."""

from __future__ import annotations

from pathlib import Path

from targets import MIB, Add, Target
from upload import BOTO3, PIPE, FileResult

RSS_TARGET = 128 * MIB
CPU_TARGET = 1.8  # the pipeline's CPU time over boto3's, every check on
LINK_WALL_TARGET = 1.0  # the pipeline's wall over boto3's on a shaped link
LOOPBACK_WALL_TARGET = 1.10  # the pipeline's wall over boto3's on loopback, at 1 GB
GROWTH_TARGET = 1.10  # peak RSS at the largest file over the smallest


def upload_section(
    add: Add, uploads: list[FileResult], skipped: dict[str, str], targets: list[Target]
) -> None:
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
