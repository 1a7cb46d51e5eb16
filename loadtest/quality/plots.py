"""Bytes against SSIMULACRA2, one PNG per format, one line per system (its corpus curve:
total bytes over the variants at each sweep quality against their mean score), with each
system's default and pixgate's q:auto marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest.quality.analysis import common_variants, corpus_curve, operating
from loadtest.quality.results import Run

MARKED = {"default": "default", "auto": "q:auto"}
COLOURS = {
    "pixgate": "#1f77b4",
    "libvips": "#9e9e9e",
    "sharp": "#2ca02c",
    "sharp-mozjpeg": "#98df8a",
    "thumbor": "#ff7f0e",
    "pixgate-baseline": "#aec7e8",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ticker() -> Any:
    import matplotlib.ticker

    return matplotlib.ticker


def plot_format(run: Run, fmt: str, path: Path) -> bool:
    systems = [
        s
        for s in run.systems()
        if any(x.output_format == fmt for x in run.samples if x.system == s)
    ]
    variants = common_variants(run.samples, systems, fmt)
    if not variants:
        return False
    labels: dict[str, str] = run.meta.get("labels", {})
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(7.5, 5.2))
    for system in systems:
        points = sorted(corpus_curve(run.samples, system, fmt, variants), key=lambda p: p.score)
        if not points:
            continue
        colour = COLOURS.get(system, "#000000")
        ax.plot(
            [p.score for p in points],
            [p.size_bytes / 1024 for p in points],
            marker="o",
            markersize=3,
            color=colour,
            label=labels.get(system, system),
        )
        for quality, marker in (("default", "s"), ("auto", "*")):
            point = operating(run.samples, system, fmt, quality, variants)
            if point is not None:
                ax.plot(
                    point.mean_score,
                    point.total_bytes / 1024,
                    marker=marker,
                    markersize=11 if marker == "*" else 7,
                    color=colour,
                    markeredgecolor="black",
                    linestyle="none",
                    label=f"{labels.get(system, system)} {MARKED[quality]}",
                )
    ax.set_yscale("log")
    plain = _ticker().FuncFormatter(lambda value, _: f"{value:,.0f}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_xlabel("mean SSIMULACRA2 (higher is better)")
    ax.set_ylabel(f"total KiB over {len(variants)} variants (log)")
    ax.set_title(f"{fmt.upper()}: bytes vs SSIMULACRA2 (lower right is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def plot_all(run: Run, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    written = []
    for fmt in formats:
        path = out_dir / f"quality-{fmt}.png"
        if plot_format(run, fmt, path):
            written.append(path)
    return written
