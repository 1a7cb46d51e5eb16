"""The report of `python -m loadtest.bench`: its typed results (`BenchRun`) as blocks of
`loadtest.report`, printed as text and written as markdown."""

from __future__ import annotations

import math

from loadtest import upload_report
from loadtest.bench_results import MODE_LABELS, BenchRun, by_workload
from loadtest.report import BUSY_MACHINE_CORES, Block, Column, Text, lines, mib, table

_MODE_COLUMNS = (
    Column("workload", 12, "<"),
    Column("mode", 12, "<"),
    Column("conc", 4),
    Column("req/s", 7),
    Column("p50 ms", 8),
    Column("p99 ms", 8),
    Column("errors", 6),
    Column("CPU ms/img", 10),
)
_RATIO_COLUMNS = (
    Column("ratio pixgate/bare", 20, "<"),
    Column("req/s (per round)", 22, "<"),
    Column("p50", 5),
    Column("p99", 5),
    Column("mean", 5),
    Column("CPU/img", 8),
)


def report(run: BenchRun) -> list[Block]:
    blocks = [_header(run), *_tables(run), _cpu(run), _time(run), _memory_and_formats(run)]
    if run.uploads is not None:
        blocks += upload_report.report(run.uploads)
    return blocks


def _header(run: BenchRun) -> Text:
    meta, box = run.meta, run.meta.machine
    out = [
        "",
        f"pixgate benchmark  {meta.date}",
        f"  source: {meta.source_size} JPEG q{meta.source_quality}, {meta.source_bytes:,} "
        f"bytes, in moto S3 ({meta.moto})",
        f"  machine: {box.cores} cores, {box.platform}, Python {box.python}, "
        f"libvips {box.libvips}, load average at start {meta.loadavg_start}",
        f"  pixgate: PIXGATE_CONCURRENCY={meta.server_concurrency} (default: cores), "
        f"WEBP_EFFORT={meta.webp_effort}, AVIF_EFFORT={meta.avif_effort}, "
        f"avif quality {meta.avif_quality}; no result cache (every request transforms); "
        f"source cache ON (TTL {meta.source_cache_ttl_s}s): it holds the original's bytes, "
        f"like the bare loop's in-memory copy",
        f"  bare pyvips: N threads x (thumbnail_buffer(data, {meta.target_width}) + save), same "
        f"quality/effort/keep=none, libvips operation cache off, its own process",
        f"  each mode: {meta.duration_s:g}s measured per row in {meta.rounds} alternating "
        f"rounds (ABBA), {meta.warmup_s:g}s unmeasured warm-up per round; closed loop "
        f"(each client sends its next request when the last answer is read)",
        f"  load: aiohttp client in its own process; each request a distinct URL (cachebuster "
        f"cb:0..{meta.distinct_urls - 1}, same work) so pixgate cannot coalesce concurrent "
        f"identical requests into one render",
    ]
    if meta.server_overrides:
        out.append(f"  pixgate run with --set {dict(meta.server_overrides)} (not its defaults)")
    return lines(*out, "")


def _tables(run: BenchRun) -> list[Block]:
    width = run.meta.target_width
    modes = [
        (
            f"{row.format.upper()} {width}px",
            MODE_LABELS[row.mode],
            str(row.concurrency),
            f"{row.measured.per_second:.1f}",
            f"{row.measured.summary.p50_ms:.1f}",
            f"{row.measured.summary.p99_ms:.1f}",
            str(row.measured.summary.errors),
            f"{row.measured.cpu_ms_per_request:.1f}",
        )
        for row in run.rows
    ]
    ratios = [
        (
            f"  {workload}",
            f"{r.per_second:.2f} ({min(r.rounds):.2f}-{max(r.rounds):.2f})",
            f"{r.p50:.2f}",
            f"{r.p99:.2f}",
            f"{r.mean:.2f}",
            f"{r.cpu_per_image:.2f}",
        )
        for workload, r in run.ratios_pixgate_over_bare.items()
    ]
    return [
        table(modes, _MODE_COLUMNS, indent="", gap=" ", rule=True),
        lines(""),
        table(ratios, _RATIO_COLUMNS, indent="", gap=" "),
        lines(
            "  (CPU/img: pixgate server process vs bare loop process, CPU time per image; "
            "less sensitive to other load on the machine than req/s)"
        ),
    ]


def _cpu(run: BenchRun) -> Text:
    out = ["", f"CPU in the measured windows (in cores; the machine has {run.meta.machine.cores}):"]
    for workload, modes in by_workload(run.rows).items():
        pixgate, bare = modes["pixgate"].measured, modes["bare"].measured
        out += [
            f"  {workload:<8} pixgate server {pixgate.cpu_cores:.2f} "
            f"(of which its event-loop thread "
            f"{pixgate.main_thread_cpu_ms_per_request:.1f} ms CPU/request), "
            f"load client {pixgate.client_cpu_cores:.2f} "
            f"({pixgate.client_cpu_ms_per_request:.1f} ms CPU/request), "
            f"other processes {pixgate.other_cpu_cores:.2f}",
            f"  {'':<8} bare loop {bare.cpu_cores:.2f}, other processes {bare.other_cpu_cores:.2f}",
        ]
    out.append(
        "  (the load client is a separate process sharing the same cores; 'other processes' "
        "is machine-wide busy time minus ours)"
    )
    busiest = max(row.measured.other_cpu_cores for row in run.rows)
    if busiest > BUSY_MACHINE_CORES:
        out.append(
            f"  WARNING: other processes used up to {busiest:.2f} cores during a measurement; "
            f"ratios are less reliable (see the per-round spread; rerun on a quiet machine)"
        )
    return lines(*out)


def _time(run: BenchRun) -> Text:
    out = [
        "",
        "where pixgate's time goes (means per request, from its /metrics, measured windows):",
    ]
    for workload, modes in by_workload(run.rows).items():
        pixgate, bare = modes["pixgate"], modes["bare"]
        handler = pixgate.server_means_ms.get("handler", math.nan)
        transform = pixgate.server_means_ms.get("transform", math.nan)
        client = pixgate.measured.summary.mean_ms
        reads = pixgate.source_reads
        out += [
            f"  {workload:<8} client latency {client:.1f} ms = handler {handler:.1f} "
            f"[transform incl. slot wait {transform:.1f} + rest {handler - transform:.1f}] "
            f"+ outside handler {client - handler:.1f};  bare op "
            f"{bare.measured.summary.mean_ms:.1f} ms",
            f"  {'':<8} source cache hits {reads.get('cache_hit', 0):.0f}, misses "
            f"{reads.get('cache_miss', 0):.0f}, S3 fetches {reads.get('fetches', 0):.0f}; "
            f"response {pixgate.measured.output_bytes / 1000:.1f} kB vs bare output "
            f"{bare.measured.output_bytes / 1000:.1f} kB",
        ]
    return lines(*out)


def _memory_and_formats(run: BenchRun) -> Text:
    meta = run.meta
    bare_rss = max(row.measured.peak_rss_bytes for row in run.rows if row.mode == "bare")
    out = [
        "",
        f"peak RSS (VmHWM): pixgate server {mib(run.pixgate_peak_rss_bytes)} over the whole run; "
        f"bare loop {mib(bare_rss)} (largest of its processes)",
        "first requests (before load; the first includes the S3 read from moto): "
        + ", ".join(
            f"{name} {first.ms:.0f} ms ({first.bytes:,} bytes)"
            for name, first in meta.first_requests.items()
        ),
        "",
    ]
    if run.avif_over_webp:
        out.append(
            f"AVIF/WebP time per image at concurrency {meta.avif_concurrency} (target <= ~2x):"
        )
        out += [
            f"  {MODE_LABELS[mode]:<12} {r.time_by_throughput:.2f}x by throughput, "
            f"{r.p50:.2f}x by p50, {r.cpu_per_image:.2f}x by CPU per image"
            for mode, r in run.avif_over_webp.items()
        ]
    out += [
        f"errors in {row.workload}: {dict(row.measured.statuses)} "
        f"e.g. {list(row.measured.error_samples[:3])}"
        for row in run.rows
        if row.mode == "pixgate" and row.measured.summary.errors
    ]
    return lines(*out)
