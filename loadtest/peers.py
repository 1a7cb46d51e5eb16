"""pixgate against its ceiling and its peers, in one run on this machine (`make bench-peers`).

    python -m loadtest.peers [--duration 6] [--rounds 2] [--concurrency 2 4] [--quick]
                             [--set PIXGATE_NAME=VALUE] [--no-scaling] [--no-memory]
                             [--no-cache-hits]

1. Images: a 4000x3000 photo-like JPEG, a 1200x800 RGBA PNG and 1/6/24/50 MP JPEGs, made
   once into var/peers/images (loadtest.imageset), which every system reads.
2. Systems: pixgate (this tree, default settings, `file://` storage on that folder); the
   bare pyvips loop doing pixgate's libvips calls from in-memory bytes (loadtest.bare: the
   ceiling); thumbor (PyPI, own virtualenv, Pillow engine) with ENGINE_THREADPOOL_SIZE =
   cores and = 0 (its default); ipx (npm, sharp). Peers are installed into var/peers on
   first use (loadtest.peer_servers).
3. Transforms: T1 4000x3000 JPEG -> 800px WebP q80; T2 the same -> 300x300 cover AVIF q55;
   T3 1200x800 RGBA PNG -> 500px JPEG q80 on white. Each system's output is checked first
   (type, size, bytes, PSNR against the same system's lossless PNG of the same geometry).
4. Load: the same closed-loop client (loadtest.loadgen, its own process) at each
   concurrency; every request a distinct URL (pixgate `cb:N`; peers a distinct hard link of
   the source) so nothing cached can answer. Systems alternate in rounds (forward, then
   backward) so all see the same machine. Server CPU per request is read from /proc, peak
   RSS (VmHWM) restarted before each window.
5. Scaling: 1, 6, 24 and 50 MP sources -> the same 800px WebP, one client, pixgate and the
   bare loop alternating. Memory: a fresh pixgate's peak RSS under 8 clients asking for the
   24 MP source. Cache hits: the nginx edge serving a cached variant vs nginx serving the same
   bytes as a static file, under wrk (loadtest.cachebench).

Prints the tables, pixgate's ratios and the issue's targets (MET/MISSED); writes
var/bench/peers.json and the same report as var/bench/peers.md, and plots into var/bench/
(`python -m loadtest.plots`). Every process started here is stopped by its PID on exit,
Ctrl-C or failure.

This module is the command line; the run is loadtest.peer_run, the output checks
loadtest.checks, the targets loadtest.peer_targets, the report loadtest.peer_report.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from loadtest.command import parse_set, run_benchmark
from loadtest.imageset import SCALING
from loadtest.peer_plan import PeersPlan, parse_overrides
from loadtest.peer_report import report as peer_report
from loadtest.peer_results import systems
from loadtest.peer_run import run
from loadtest.peer_servers import TRANSFORMS
from loadtest.processes import REPO

DEFAULT_OUTPUT = REPO / "var" / "bench" / "peers.json"


def estimate_s(plan: PeersPlan) -> float:
    per_segment = plan.warmup + 0.8  # start-up of the client or loop
    grid = (
        len(plan.transforms)
        * plan.grid
        * len(plan.concurrency)
        * len(set(plan.systems) | {"pixgate"})
        * (plan.duration + plan.rounds * per_segment)
    )
    scaling = len(SCALING) * 2 * (plan.scaling_duration + plan.rounds * per_segment)
    memory = plan.memory_duration + 5
    cache = plan.cache_duration * 2 + 6
    return (
        20
        + grid
        + (scaling if plan.scaling else 0)
        + (memory if plan.memory else 0)
        + (cache if plan.cache_hits else 0)
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.peers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration", type=float, default=8.0, help="measured seconds per system per row"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per row")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per round")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[2, 4])
    parser.add_argument(
        "--transforms", nargs="+", choices=[t.key for t in TRANSFORMS], default=["T1", "T2", "T3"]
    )
    parser.add_argument(
        "--systems",
        nargs="+",
        choices=[system.key for system in systems()],
        default=[system.key for system in systems()],
        help="systems in the comparison (pixgate always runs)",
    )
    parser.add_argument(
        "--scaling-duration", type=float, default=4.0, help="measured seconds per size per mode"
    )
    parser.add_argument("--memory-duration", type=float, default=8.0)
    parser.add_argument("--cache-duration", type=float, default=6.0, help="seconds per mode")
    parser.add_argument("--cache-connections", type=int, default=16)
    for name, what in (
        ("grid", "pixgate vs bare loop and peers on T1-T3"),
        ("scaling", "cost vs source size"),
        ("memory", "peak RSS under 24 MP"),
        ("cache-hits", "edge vs static"),
    ):
        parser.add_argument(
            f"--{name}", action=argparse.BooleanOptionalAction, default=True, help=what
        )
    parser.add_argument(
        "--plot", action=argparse.BooleanOptionalAction, default=True, help="PNGs in var/bench"
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~1 min)")
    parser.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="run pixgate with PIXGATE_NAME=VALUE; VIPS_* and MALLOC_* go to pixgate's and the "
        "bare loop's environment (e.g. VIPS_CONCURRENCY=1, MALLOC_ARENA_MAX=2)",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="results JSON (markdown beside it)"
    )
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    args.set = parse_set(parser, args.set)
    if args.quick:
        args.duration, args.rounds, args.warmup = 1.5, 1, 0.5
        args.scaling_duration, args.memory_duration, args.cache_duration = 1.5, 3.0, 2.0
        args.concurrency = [2]
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0 or args.scaling_duration <= 0:
        parser.error("--rounds must be >= 1, durations > 0, --warmup >= 0")
    if any(c < 1 for c in args.concurrency):
        parser.error("--concurrency must be >= 1")
    return args


def make_plan(args: argparse.Namespace) -> PeersPlan:
    """The run the arguments ask for; ValueError names a --set the benchmark refuses."""
    settings, vips_env = parse_overrides(args.set)
    return PeersPlan(
        command="python -m loadtest.peers " + " ".join(args.argv),
        log_dir=args.output.parent,
        settings=settings,
        vips_env=vips_env,
        overrides=tuple(args.set),
        duration=args.duration,
        rounds=args.rounds,
        warmup=args.warmup,
        concurrency=tuple(args.concurrency),
        transforms=tuple(args.transforms),
        systems=tuple(args.systems),
        grid=args.grid,
        scaling=args.scaling,
        memory=args.memory,
        cache_hits=args.cache_hits,
        scaling_duration=args.scaling_duration,
        memory_duration=args.memory_duration,
        cache_duration=args.cache_duration,
        cache_connections=args.cache_connections,
    )


def banner(plan: PeersPlan) -> str:
    systems_count = len(set(plan.systems) | {"pixgate"})
    return (
        f"{len(plan.transforms)} transforms x {len(plan.concurrency)} concurrencies x "
        f"{systems_count} systems, about {estimate_s(plan) / 60:.1f} min "
        f"(+ installing peers and making images on a first run)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    status = run_benchmark(
        "pixgate peers",
        args.output,
        make_plan=lambda: make_plan(args),
        banner=banner,
        run=run,
        blocks=peer_report,
        elapsed_s=lambda result: result.meta.elapsed_s,
        interrupted="every server started here was stopped",
    )
    if status == 0 and args.plot:
        plots = subprocess.run(
            [sys.executable, "-m", "loadtest.plots", "--input", str(args.output)], cwd=REPO
        )
        if plots.returncode != 0:
            print("plots: failed (see above); the JSON is complete", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
