"""PNG plots of a peer benchmark's JSON (`python -m loadtest.peers` writes it).

    python -m loadtest.plots [--input var/bench/peers.json] [--output-dir var/bench]

throughput.png: requests/s (top) and server CPU ms per request (bottom) of every system for
each transform, one column per concurrency. scaling.png: time and CPU per request against
source megapixels, pixgate and the bare loop, on log-log axes with a proportional-to-pixels
line for scale. `--output-dir docs` refreshes the figures docs/performance.md shows.

matplotlib is not a dependency of pixgate: when this interpreter lacks it, the plots are
drawn by a small virtualenv of their own (var/peers/plot-venv, made on first use).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = REPO / "var" / "bench" / "peers.json"
PLOT_VENV = REPO / "var" / "peers" / "plot-venv"
MATPLOTLIB = "matplotlib>=3.8,<4"
_IN_PLOT_VENV = "PIXGATE_PLOTS_IN_VENV"  # set for the re-run there: no second re-run
ORDER = ("bare", "bare-cores", "pixgate", "thumbor", "thumbor0", "ipx")
COLOURS = {
    "bare": "#9e9e9e",
    "bare-cores": "#d0d0d0",
    "pixgate": "#1f77b4",
    "thumbor": "#ff7f0e",
    "thumbor0": "#ffbb78",
    "ipx": "#2ca02c",
}


def _pyplot() -> Any:
    # Imported by name: matplotlib lives in the plot virtualenv, not in pixgate's.
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def throughput(document: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    rows = document["rows"]
    labels: dict[str, str] = document["systems"]
    transforms = [
        t for t in document["transforms"] if any(r["transform"] == t["key"] for r in rows)
    ]
    concurrencies = sorted({r["concurrency"] for r in rows})
    systems = [s for s in ORDER if any(r["system"] == s for r in rows)]
    figure, axes = plt.subplots(
        2, len(concurrencies), figsize=(max(9.0, 6.4 * len(concurrencies)), 8.6), squeeze=False
    )
    legend: dict[str, Any] = {}
    for column, concurrency in enumerate(concurrencies):
        # A system measured at some concurrencies only (the bare loop bounded to the cores)
        # takes no slot in the others.
        present = [
            s
            for s in systems
            if any(r["system"] == s and r["concurrency"] == concurrency for r in rows)
        ]
        width = 0.8 / max(1, len(present))
        for row, (metric, title, fmt) in enumerate(
            (
                ("per_second", "requests/s (higher is better)", "{:.1f}"),
                ("cpu_ms_per_request", "server CPU ms per request (lower is better)", "{:.0f}"),
            )
        ):
            ax = axes[row][column]
            for index, system in enumerate(present):
                xs, values = [], []
                for position, transform in enumerate(transforms):
                    match = [
                        r
                        for r in rows
                        if r["system"] == system
                        and r["transform"] == transform["key"]
                        and r["concurrency"] == concurrency
                    ]
                    x = position + (index - (len(present) - 1) / 2) * width
                    if match and match[0].get(metric) is not None:
                        xs.append(x)
                        values.append(match[0][metric])
                    else:
                        ax.text(x, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
                bars = ax.bar(xs, values, width * 0.95, label=labels[system], color=COLOURS[system])
                if values:
                    legend.setdefault(system, bars)
                for bar, value in zip(bars, values, strict=True):
                    ax.annotate(
                        fmt.format(value),
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        xytext=(0, 1),
                        textcoords="offset points",
                    )
            ax.set_xticks(
                range(len(transforms)), [t.get("short", t["key"]) for t in transforms], fontsize=8
            )
            ax.set_title(f"{title}, {concurrency} clients", fontsize=10)
            ax.grid(axis="y", alpha=0.3)
            ax.margins(y=0.12)
    shown = [s for s in systems if s in legend]
    figure.legend(
        [legend[s] for s in shown],
        [labels[s] for s in shown],
        loc="lower center",
        ncol=len(shown),
        fontsize=9,
    )
    meta = document["meta"]
    figure.suptitle(
        f"pixgate vs peers: same machine, same run ({meta['cores']} cores, {meta['date'][:10]});"
        f" every request transforms",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def scaling(document: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    rows = document["scaling"]
    labels = {"bare": "bare pyvips", "pixgate": "pixgate"}
    figure, ax = plt.subplots(figsize=(7.5, 5.2))
    for mode in ("bare", "pixgate"):
        points = sorted((r["megapixels"], r) for r in rows if r["mode"] == mode)
        if not points:
            continue
        mps = [mp for mp, _ in points]
        ax.plot(
            mps,
            [r["mean_ms"] for _, r in points],
            marker="o",
            color=COLOURS[mode],
            label=f"{labels[mode]}: time per request",
        )
        ax.plot(
            mps,
            [r["cpu_ms_per_request"] for _, r in points],
            marker="x",
            linestyle="--",
            color=COLOURS[mode],
            alpha=0.7,
            label=f"{labels[mode]}: CPU per request",
        )
        if mode == "pixgate":
            for mp, r in points:
                ax.annotate(
                    f"{r['mean_ms']:.0f} ms",
                    (mp, r["mean_ms"]),
                    xytext=(6, -12),
                    textcoords="offset points",
                    fontsize=8,
                    color=COLOURS[mode],
                )
            first_mp, first = points[0][0], points[0][1]["mean_ms"]
            ax.plot(
                mps,
                [first * mp / first_mp for mp in mps],
                linestyle=":",
                color="black",
                alpha=0.5,
                label="proportional to pixels (from 1 MP)",
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks([1, 6, 24, 50], ["1", "6", "24", "50"])
    ax.set_xlabel("source megapixels (4:3 JPEG q90)")
    ax.set_ylabel("ms per request (log)")
    ax.set_title("Cost vs source size, output always 800x600 WebP q80 (one client)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _has_matplotlib() -> bool:
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        return False
    return True


def _in_plot_venv(argv: Sequence[str]) -> int:
    python = PLOT_VENV / "bin" / "python"
    if os.environ.get(_IN_PLOT_VENV):
        print("plots: matplotlib is missing even in the plot virtualenv", file=sys.stderr)
        return 1
    has_it = (
        python.exists()
        and subprocess.run([str(python), "-c", "import matplotlib"], capture_output=True).returncode
        == 0
    )
    if not has_it:
        print(f"plots: making {PLOT_VENV} with {MATPLOTLIB} ...", flush=True)
        log_path = PLOT_VENV.parent / "plot-install.log"
        with open(log_path, "ab") as log:
            for command in (
                [sys.executable, "-m", "venv", str(PLOT_VENV)],
                [str(python), "-m", "pip", "install", "--quiet", MATPLOTLIB],
            ):
                if subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode:
                    print(f"plots: installing matplotlib failed; see {log_path}", file=sys.stderr)
                    return 1
    env = {**os.environ, "PYTHONPATH": str(REPO), _IN_PLOT_VENV: "1"}
    command = [str(python), "-m", "loadtest.plots", *argv]
    return subprocess.run(command, cwd=REPO, env=env).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.plots", description=__doc__)
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--output-dir", type=Path, default=None, help="default: beside --input")
    arguments = list(argv if argv is not None else sys.argv[1:])
    args = parser.parse_args(arguments)
    if not _has_matplotlib():
        return _in_plot_venv(arguments)
    document = json.loads(args.input.read_text())
    folder = args.output_dir or args.input.parent
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if document.get("rows"):
        throughput(document, folder / "throughput.png")
        written.append(folder / "throughput.png")
    if document.get("scaling"):
        scaling(document, folder / "scaling.png")
        written.append(folder / "scaling.png")
    print("plots: " + (", ".join(str(p) for p in written) or "nothing to plot"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
