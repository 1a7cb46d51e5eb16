"""pixgate against a bare pyvips loop, then against its peers, in one run on this machine
(`make bench`).

    python -m loadtest.bench [--duration 20] [--concurrency 2 4] [--rounds 4] [--quick]
                             [--no-uploads] [--no-peers]

1. Make a 4000x3000 photo-like JPEG (q90) in memory; put it in moto's standalone S3 server.
2. Start pixgate on a free loopback port, reading that bucket, with its default settings
   (PIXGATE_CONCURRENCY = cores; no result cache, so every request transforms).
3. For each workload (800px WebP q80 at each concurrency; 800px AVIF at one), alternate a
   closed-loop HTTP load on pixgate (`loadtest.loadgen`, its own process) with a bare pyvips
   loop doing the same thumbnail + encode over the same bytes (`loadtest.bare`, its own
   process), in ABBA order so both see the same machine.
4. Print requests/s, latency percentiles, errors, the pixgate/bare ratios, CPU and peak RSS;
   write everything to var/bench/results.json, and the report as var/bench/results.md.
5. Uploads (`loadtest.upload_bench`), then the peer benchmark (`loadtest.peers`: thumbor,
   ipx, cost against source size, memory, edge cache hits) unless --no-peers.

Every process started here is stopped by its PID on exit, Ctrl-C or failure.

This module is the command line; the run is loadtest.bench_run, its results
loadtest.bench_results, the report loadtest.bench_report.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from loadtest.bench_report import report as bench_report
from loadtest.bench_results import MODES
from loadtest.bench_run import BenchPlan, ServerConfig, run
from loadtest.command import parse_set, run_benchmark
from loadtest.peers import main as peers_main
from loadtest.processes import REPO
from loadtest.upload_results import UploadPlan

DEFAULT_OUTPUT = REPO / "var" / "bench" / "results.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="measured seconds per mode per row"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unmeasured seconds before each round"
    )
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating rounds the duration is split into"
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[2, 4], help="WebP client counts"
    )
    parser.add_argument(
        "--avif-concurrency", type=int, default=2, help="AVIF client count (0: skip AVIF)"
    )
    parser.add_argument(
        "--uploads",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure the upload API against its pieces (loadtest.upload_bench)",
    )
    parser.add_argument(
        "--peers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="then run the peer benchmark (loadtest.peers: thumbor, ipx, scaling, memory, edge)",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--set",
        metavar="PIXGATE_NAME=VALUE",
        action="append",
        default=[],
        help="run pixgate with this setting (the bare loop copies efforts and qualities)",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="results JSON (markdown beside it)"
    )
    args = parser.parse_args(argv)
    args.set = parse_set(parser, args.set, "PIXGATE_NAME=VALUE")
    args.upload_plan = UploadPlan()
    if args.quick:
        args.duration, args.warmup, args.rounds = 2.0, 0.5, 2
        args.upload_plan = UploadPlan.quick()
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--rounds must be >= 1, --duration > 0, --warmup >= 0")
    if any(c < 1 for c in args.concurrency) or args.avif_concurrency < 0:
        parser.error("concurrency must be >= 1")
    return args


def make_plan(args: argparse.Namespace) -> BenchPlan:
    """The run the arguments ask for; ValueError names a --set the benchmark refuses."""
    return BenchPlan(
        server=ServerConfig.from_settings(args.set),
        log_dir=args.output.parent,
        duration=args.duration,
        warmup=args.warmup,
        rounds=args.rounds,
        concurrency=tuple(args.concurrency),
        avif_concurrency=args.avif_concurrency,
        uploads=args.upload_plan if args.uploads else None,
    )


def estimate_s(plan: BenchPlan, quick: bool) -> float:
    rows = len(plan.concurrency) + (1 if plan.avif_concurrency else 0)
    estimate = rows * len(MODES) * (plan.duration + plan.rounds * (plan.warmup + 0.8)) + 15
    if plan.uploads is not None:
        estimate += 20 if quick else 60
    return estimate


def banner(plan: BenchPlan, quick: bool) -> str:
    rows = len(plan.concurrency) + (1 if plan.avif_concurrency else 0)
    uploads = " + uploads" if plan.uploads else ""
    return f"{rows} workloads x 2 modes{uploads}, about {estimate_s(plan, quick) / 60:.1f} min"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    status = run_benchmark(
        "pixgate bench",
        args.output,
        make_plan=lambda: make_plan(args),
        banner=lambda plan: banner(plan, args.quick),
        run=run,
        blocks=bench_report,
        elapsed_s=lambda result: result.meta.elapsed_s,
        interrupted="pixgate and moto stopped",
    )
    if status == 0 and args.peers:
        return peers_main(
            [*(["--quick"] if args.quick else []), *(f"--set={k}={v}" for k, v in args.set.items())]
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
