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
   write everything to var/bench/results.json.
5. Uploads (`loadtest.upload_bench`), then the peer benchmark (`loadtest.peers`: thumbor,
   ipx, cost against source size, memory, edge cache hits) unless --no-peers.

Every process started here is stopped by its PID on exit, Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pyvips
from pixgate_signing import UrlBuilder

from config.settings import VARIABLES, variable_value
from loadtest.harness.imagegen import jpeg
from loadtest.harness.s3server import aws_test_env, create_bucket, run_moto_server, s3_client
from loadtest.imageset import photo
from loadtest.peers import main as peers_main
from loadtest.processes import REPO, Server, run_child, run_pixgate
from loadtest.procfs import peak_rss_bytes
from loadtest.stats import Summary, WindowTally
from loadtest.upload_bench import UploadPlan, run_uploads
from loadtest.upload_bench import report as upload_report
from proxy.options import OutputFormat
from proxy.quality import encoder_quality

DEFAULT_OUTPUT = REPO / "var" / "bench" / "results.json"
BUCKET = "pixgate-bench"
SOURCE_KEY = "bench/source.jpg"
SOURCE_SIZE = (4000, 3000)
SOURCE_QUALITY = 90
TARGET_WIDTH = 800
WEBP_QUALITY = 80
AVIF_QUALITY = 80  # pixgate's scale: AVIF Q63
# Long enough that the original is read from S3 once per run, as the bare loop holds it.
SOURCE_CACHE_TTL_S = 3600
# URLs per workload, taken in turn; far more than can be in flight at once.
DISTINCT_URLS = 4000
# Background load (in cores) above which the report warns that the machine was busy.
BUSY_MACHINE_CORES = 0.25
CHILD_SLACK_S = 90.0
MODES = ("bare", "pixgate")
MODE_LABELS = {"bare": "bare pyvips", "pixgate": "pixgate"}
CONTENT_TYPES = {"webp": "image/webp", "avif": "image/avif"}


# --- what is measured ----------------------------------------------------------------------


# Variables the benchmark itself sets for the server; --set may not change them.
_OWN_VARIABLES = frozenset(
    {
        "PIXGATE_KEY",
        "PIXGATE_SALT",
        "PIXGATE_STORAGE_URL",
        "PIXGATE_S3_ENDPOINT_URL",
        "PIXGATE_BIND",
        "PIXGATE_LOG_LEVEL",
        "PIXGATE_SOURCE_CACHE_TTL",
    }
)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """pixgate's settings (config/settings.py defaults, plus any --set), which the bare loop
    must copy."""

    concurrency: int
    webp_effort: int
    avif_effort: int
    avif_quality: int
    overrides: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, overrides: dict[str, str]) -> ServerConfig:
        variables = {variable.name: variable for variable in VARIABLES}
        for name in overrides:
            if name not in variables or name in _OWN_VARIABLES:
                raise ValueError(f"--set {name}: not a PIXGATE_* variable the benchmark allows")

        def value(name: str) -> Any:
            try:
                return variable_value(name, overrides)
            except ValueError as error:
                raise ValueError(f"--set {name}: {error}") from None

        qualities = dict(value("PIXGATE_FORMAT_QUALITY"))
        return cls(
            concurrency=value("PIXGATE_CONCURRENCY"),
            webp_effort=value("PIXGATE_WEBP_EFFORT"),
            avif_effort=value("PIXGATE_AVIF_EFFORT"),
            # q:auto (None) has no fixed quality for the bare loop to match: pin one.
            avif_quality=qualities.get("avif", value("PIXGATE_QUALITY")) or AVIF_QUALITY,
            overrides=tuple(sorted(overrides.items())),
        )


@dataclass(frozen=True, slots=True)
class Workload:
    """One output and the concurrency it is measured at, by both modes."""

    output_format: str
    quality: int
    effort: int
    concurrency: int
    urls_file: Path  # distinct URLs for the same work, so no two requests coalesce
    first_url: str

    @property
    def name(self) -> str:
        return f"{self.output_format}@{self.concurrency}"


@dataclass(slots=True)
class ModeResult(WindowTally):
    """One mode of one workload: its segments added together, with pixgate's own metrics."""

    server_means_ms: dict[str, float] = field(default_factory=dict)
    source_reads: dict[str, float] = field(default_factory=dict)
    _metric_sums: dict[str, float] = field(default_factory=dict)

    def add(self, raw: Mapping[str, Any], cpu_key: str = "cpu_s") -> None:
        # Named, not super(): a slots dataclass is a new class, without super()'s cell.
        WindowTally.add(self, raw, cpu_key)
        if "metrics_before" in raw:
            for key, value in metric_deltas(raw["metrics_before"], raw["metrics_after"]).items():
                self._metric_sums[key] = self._metric_sums.get(key, 0.0) + value

    def finish(self) -> Summary:
        sums = self._metric_sums
        for label, prefix in (
            ("handler", "request"),
            ("transform", "transform"),
        ):
            count = sums.get(f"{prefix}_count", 0.0)
            if count:
                self.server_means_ms[label] = sums[f"{prefix}_sum"] / count * 1000
        for key in ("cache_hit", "cache_miss", "fetches"):
            if key in sums:
                self.source_reads[key] = sums[key]
        return self.summary()


# --- Prometheus samples read by the load client ----------------------------------------------

_NOT_TRANSFORMS = ('route="/health"', 'route="/ready"', 'route="/metrics"')


def _series_sum(samples: dict[str, float], name: str, *, needs: str = "") -> float:
    total = 0.0
    for series, value in samples.items():
        metric, _, labels = series.partition("{")
        if metric != name or (needs and needs not in labels):
            continue
        if any(other in labels for other in _NOT_TRANSFORMS):
            continue
        total += value
    return total


def metric_deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What pixgate's own metrics say about the measured window."""
    picks = {
        "request_sum": ("pixgate_request_duration_seconds_sum", 'status="200"'),
        "request_count": ("pixgate_request_duration_seconds_count", 'status="200"'),
        "transform_sum": ("pixgate_transform_duration_seconds_sum", ""),
        "transform_count": ("pixgate_transform_duration_seconds_count", ""),
        "cache_hit": ("pixgate_source_cache_total", 'outcome="hit"'),
        "cache_miss": ("pixgate_source_cache_total", 'outcome="miss"'),
        "fetches": ("pixgate_source_fetch_duration_seconds_count", ""),
    }
    return {
        key: _series_sum(after, name, needs=needs) - _series_sum(before, name, needs=needs)
        for key, (name, needs) in picks.items()
    }


# --- processes -------------------------------------------------------------------------------


def server_settings(
    endpoint_url: str, key_hex: str, salt_hex: str, overrides: dict[str, str]
) -> dict[str, str]:
    """pixgate's defaults, with --set, serving the benchmark's bucket."""
    return {
        **overrides,
        "PIXGATE_KEY": key_hex,
        "PIXGATE_SALT": salt_hex,
        "PIXGATE_STORAGE_URL": f"s3://{BUCKET}",
        "PIXGATE_S3_ENDPOINT_URL": endpoint_url,
        "PIXGATE_LOG_LEVEL": "warning",
        "PIXGATE_SOURCE_CACHE_TTL": str(SOURCE_CACHE_TTL_S),
    }


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# --- the run ---------------------------------------------------------------------------------


def make_source() -> bytes:
    """A photo-like JPEG: the test landscape plus detail that survives the downscale."""
    return jpeg(photo(*SOURCE_SIZE), quality=SOURCE_QUALITY)


def make_workloads(
    builder: UrlBuilder, defaults: ServerConfig, args: argparse.Namespace, scratch: Path
) -> list[Workload]:
    """WebP at each --concurrency, then AVIF (quality from pixgate's default) at one."""
    # The bare loop gets the encoder's Q for pixgate's q (proxy.quality's scale).
    formats = {
        "webp": (
            encoder_quality(OutputFormat.WEBP, WEBP_QUALITY),
            defaults.webp_effort,
            WEBP_QUALITY,
        ),
        "avif": (
            encoder_quality(OutputFormat.AVIF, defaults.avif_quality),
            defaults.avif_effort,
            defaults.avif_quality,
        ),
    }
    plan = [("webp", concurrency) for concurrency in args.concurrency]
    if args.avif_concurrency:
        plan.append(("avif", args.avif_concurrency))
    workloads = []
    for output_format, concurrency in plan:
        quality, effort, url_quality = formats[output_format]
        # A cachebuster changes the URL (and so pixgate's coalescing key), not the work.
        urls = [
            builder.url(
                SOURCE_KEY,
                width=TARGET_WIDTH,
                format=output_format,
                quality=url_quality,
                options=[f"cb:{index}"],
            )
            for index in range(DISTINCT_URLS)
        ]
        urls_file = scratch / f"urls-{output_format}.txt"
        urls_file.write_text("\n".join(urls) + "\n")
        workloads.append(
            Workload(output_format, quality, effort, concurrency, urls_file, first_url=urls[0])
        )
    return workloads


def check_output(url: str, output_format: str) -> dict[str, Any]:
    """One request before any load: status, type, decoded size, and its (cold) time."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read()
            content_type = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        detail = error.read()[:300].decode(errors="replace")
        raise RuntimeError(f"pixgate answered {error.code} to {url}: {detail}") from None
    elapsed_ms = (time.perf_counter() - started) * 1000
    image = pyvips.Image.new_from_buffer(body, "")
    if content_type != CONTENT_TYPES[output_format] or image.width != TARGET_WIDTH:
        raise RuntimeError(
            f"unexpected {output_format} output: {content_type}, {image.width}x{image.height}"
        )
    return {"ms": elapsed_ms, "bytes": len(body), "size": f"{image.width}x{image.height}"}


def run_segment(
    mode: str,
    workload: Workload,
    duration: float,
    warmup: float,
    source_path: Path,
    server: Server,
) -> dict[str, Any]:
    common = ["--duration", str(duration), "--warmup", str(warmup)]
    timeout = duration + warmup + CHILD_SLACK_S
    if mode == "bare":
        raw = run_child(
            [
                "-m", "loadtest.bare",
                "--source", str(source_path),
                "--width", str(TARGET_WIDTH),
                "--format", workload.output_format,
                "--quality", str(workload.quality),
                "--effort", str(workload.effort),
                "--threads", str(workload.concurrency),
                *common,
            ],
            timeout,
        )  # fmt: skip
    else:
        raw = run_child(
            [
                "-m", "loadtest.loadgen",
                "--urls-file", str(workload.urls_file),
                "--concurrency", str(workload.concurrency),
                "--server-pid", str(server.pid),
                "--metrics-url", f"{server.base_url}/metrics",
                *common,
            ],
            timeout,
        )  # fmt: skip
        raw["peak_rss_bytes"] = peak_rss_bytes(server.pid)
    if not isinstance(raw, dict):
        raise RuntimeError(f"{mode} printed {type(raw).__name__}, expected an object")
    return raw


def measure(
    workloads: Sequence[Workload],
    args: argparse.Namespace,
    source_path: Path,
    server: Server,
) -> dict[str, dict[str, ModeResult]]:
    results: dict[str, dict[str, ModeResult]] = {}
    segment = args.duration / args.rounds
    for workload in workloads:
        per_mode = {mode: ModeResult() for mode in MODES}
        for round_index in range(args.rounds):
            # ABBA: B P | P B | B P | ... so drift in machine load hits both modes alike.
            order = MODES if round_index % 2 == 0 else MODES[::-1]
            for mode in order:
                print(
                    f"  {workload.name:<8} round {round_index + 1}/{args.rounds} "
                    f"{MODE_LABELS[mode]:<12}",
                    end="",
                    flush=True,
                )
                raw = run_segment(mode, workload, segment, args.warmup, source_path, server)
                per_mode[mode].add(raw, "cpu_s" if mode == "bare" else "server_cpu_s")
                rate = len(raw["latencies_ms"]) / raw["window_s"]
                print(f" {rate:6.1f}/s  errors {raw['errors']}", flush=True)
        results[workload.name] = per_mode
    return results


# --- reporting -------------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def _mb(value: float) -> str:
    return f"{value / (1 << 20):.0f} MiB"


def report(
    workloads: Sequence[Workload],
    results: dict[str, dict[str, ModeResult]],
    summaries: dict[str, dict[str, Summary]],
    meta: dict[str, Any],
    server_peak_rss: int,
    avif_concurrency: int,
) -> list[str]:
    lines: list[str] = []
    out = lines.append
    out("")
    out(f"pixgate benchmark  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    out(
        f"  source: {meta['source_size']} JPEG q{SOURCE_QUALITY}, {meta['source_bytes']:,} bytes, "
        f"in moto S3 ({meta['moto']})"
    )
    out(
        f"  machine: {meta['cores']} cores, {meta['platform']}, Python {meta['python']}, "
        f"libvips {meta['libvips']}, load average at start {meta['loadavg_start']}"
    )
    out(
        f"  pixgate: PIXGATE_CONCURRENCY={meta['server_concurrency']} (default: cores), "
        f"WEBP_EFFORT={meta['webp_effort']}, AVIF_EFFORT={meta['avif_effort']}, "
        f"avif quality {meta['avif_quality']}; no result cache (every request transforms); "
        f"source cache ON (TTL {SOURCE_CACHE_TTL_S}s): it holds the original's bytes, like "
        f"the bare loop's in-memory copy"
    )
    out(
        f"  bare pyvips: N threads x (thumbnail_buffer(data, {TARGET_WIDTH}) + save), same "
        f"quality/effort/keep=none, libvips operation cache off, its own process"
    )
    out(
        f"  each mode: {meta['duration_s']:g}s measured per row in {meta['rounds']} alternating "
        f"rounds (ABBA), {meta['warmup_s']:g}s unmeasured warm-up per round; closed loop "
        f"(each client sends its next request when the last answer is read)"
    )
    out(
        f"  load: aiohttp client in its own process; each request a distinct URL (cachebuster "
        f"cb:0..{DISTINCT_URLS - 1}, same work) so pixgate cannot coalesce concurrent "
        f"identical requests into one render"
    )
    if meta["server_overrides"]:
        out(f"  pixgate run with --set {meta['server_overrides']} (not its defaults)")
    out("")
    header = (
        f"{'workload':<12} {'mode':<12} {'conc':>4} {'req/s':>7} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>6} {'CPU ms/img':>10}"
    )
    out(header)
    out("-" * len(header))
    for workload in workloads:
        for mode in MODES:
            result, summary = results[workload.name][mode], summaries[workload.name][mode]
            out(
                f"{workload.output_format.upper() + ' ' + str(TARGET_WIDTH) + 'px':<12} "
                f"{MODE_LABELS[mode]:<12} {workload.concurrency:>4} "
                f"{summary.per_second:>7.1f} {summary.p50_ms:>8.1f} {summary.p99_ms:>8.1f} "
                f"{summary.errors:>6} {result.cpu_ms_per_request:>10.1f}"
            )
    out("")
    out(
        f"{'ratio pixgate/bare':<20} {'req/s (per round)':<22} {'p50':>5} {'p99':>5} "
        f"{'mean':>5} {'CPU/img':>8}"
    )
    for workload in workloads:
        pixgate, bare = results[workload.name]["pixgate"], results[workload.name]["bare"]
        sums = summaries[workload.name]
        rounds = [
            _ratio(p, b) for p, b in zip(pixgate.segment_rates, bare.segment_rates, strict=True)
        ]
        per_second = (
            f"{_ratio(sums['pixgate'].per_second, sums['bare'].per_second):.2f} "
            f"({min(rounds):.2f}-{max(rounds):.2f})"
        )
        out(
            f"  {workload.name:<18} {per_second:<22} "
            f"{_ratio(sums['pixgate'].p50_ms, sums['bare'].p50_ms):>5.2f} "
            f"{_ratio(sums['pixgate'].p99_ms, sums['bare'].p99_ms):>5.2f} "
            f"{_ratio(sums['pixgate'].mean_ms, sums['bare'].mean_ms):>5.2f} "
            f"{_ratio(pixgate.cpu_ms_per_request, bare.cpu_ms_per_request):>8.2f}"
        )
    out(
        "  (CPU/img: pixgate server process vs bare loop process, CPU time per image; "
        "less sensitive to other load on the machine than req/s)"
    )
    out("")
    out(f"CPU in the measured windows (in cores; the machine has {meta['cores']}):")
    for workload in workloads:
        pixgate, bare = results[workload.name]["pixgate"], results[workload.name]["bare"]
        out(
            f"  {workload.name:<8} pixgate server {pixgate.cpu_s / pixgate.measured_s:.2f} "
            f"(of which its event-loop thread "
            f"{pixgate.per_request_ms(pixgate.loop_cpu_s):.1f} ms CPU/request), "
            f"load client {pixgate.client_cpu_s / pixgate.measured_s:.2f} "
            f"({pixgate.per_request_ms(pixgate.client_cpu_s):.1f} ms CPU/request), "
            f"other processes {pixgate.other_cores:.2f}"
        )
        out(
            f"  {'':<8} bare loop {bare.cpu_s / bare.measured_s:.2f}, "
            f"other processes {bare.other_cores:.2f}"
        )
    out(
        "  (the load client is a separate process sharing the same cores; 'other processes' "
        "is machine-wide busy time minus ours)"
    )
    busiest = max(results[w.name][m].other_cores for w in workloads for m in MODES)
    if busiest > BUSY_MACHINE_CORES:
        out(
            f"  WARNING: other processes used up to {busiest:.2f} cores during a measurement; "
            f"ratios are less reliable (see the per-round spread; rerun on a quiet machine)"
        )
    out("")
    out("where pixgate's time goes (means per request, from its /metrics, measured windows):")
    for workload in workloads:
        pixgate = results[workload.name]["pixgate"]
        bare_mean = summaries[workload.name]["bare"].mean_ms
        handler = pixgate.server_means_ms.get("handler", math.nan)
        transform = pixgate.server_means_ms.get("transform", math.nan)
        client = summaries[workload.name]["pixgate"].mean_ms
        out(
            f"  {workload.name:<8} client latency {client:.1f} ms = handler {handler:.1f} "
            f"[transform incl. slot wait {transform:.1f} + rest {handler - transform:.1f}] "
            f"+ outside handler {client - handler:.1f};  bare op {bare_mean:.1f} ms"
        )
        reads = pixgate.source_reads
        out(
            f"  {'':<8} source cache hits {reads.get('cache_hit', 0):.0f}, misses "
            f"{reads.get('cache_miss', 0):.0f}, S3 fetches {reads.get('fetches', 0):.0f}; "
            f"response {pixgate.output_bytes / 1000:.1f} kB vs bare output "
            f"{results[workload.name]['bare'].output_bytes / 1000:.1f} kB"
        )
    out("")
    bare_rss = max(results[w.name]["bare"].peak_rss_bytes for w in workloads)
    out(
        f"peak RSS (VmHWM): pixgate server {_mb(server_peak_rss)} over the whole run; "
        f"bare loop {_mb(bare_rss)} (largest of its processes)"
    )
    cold = meta["first_requests"]
    out(
        "first requests (before load; the first includes the S3 read from moto): "
        + ", ".join(
            f"{name} {info['ms']:.0f} ms ({info['bytes']:,} bytes)" for name, info in cold.items()
        )
    )
    out("")
    webp_key, avif_key = f"webp@{avif_concurrency}", f"avif@{avif_concurrency}"
    if webp_key in summaries and avif_key in summaries:
        out(f"AVIF/WebP time per image at concurrency {avif_concurrency} (target <= ~2x):")
        for mode in MODES:
            webp, avif = summaries[webp_key][mode], summaries[avif_key][mode]
            cpu = _ratio(
                results[avif_key][mode].cpu_ms_per_request,
                results[webp_key][mode].cpu_ms_per_request,
            )
            out(
                f"  {MODE_LABELS[mode]:<12} {_ratio(webp.per_second, avif.per_second):.2f}x "
                f"by throughput, {_ratio(avif.p50_ms, webp.p50_ms):.2f}x by p50, "
                f"{cpu:.2f}x by CPU per image"
            )
    for workload in workloads:
        pixgate = results[workload.name]["pixgate"]
        if pixgate.errors:
            out(f"errors in {workload.name}: {pixgate.statuses} e.g. {pixgate.error_samples[:3]}")
    return lines


def results_json(
    workloads: Sequence[Workload],
    results: dict[str, dict[str, ModeResult]],
    summaries: dict[str, dict[str, Summary]],
    meta: dict[str, Any],
    server_peak_rss: int,
    avif_concurrency: int,
) -> dict[str, Any]:
    rows = []
    for workload in workloads:
        for mode in MODES:
            result, summary = results[workload.name][mode], summaries[workload.name][mode]
            rows.append(
                {
                    "workload": workload.name,
                    "format": workload.output_format,
                    "quality": workload.quality,
                    "effort": workload.effort,
                    "concurrency": workload.concurrency,
                    "mode": mode,
                    **summary.as_dict(),
                    "cpu_cores": result.cpu_s / result.measured_s,
                    "cpu_ms_per_image": result.cpu_ms_per_request,
                    "event_loop_cpu_ms_per_image": result.per_request_ms(result.loop_cpu_s),
                    "client_cpu_cores": result.client_cpu_s / result.measured_s,
                    "other_cpu_cores": result.other_cores,
                    "segment_per_second": result.segment_rates,
                    "output_bytes": result.output_bytes,
                    "server_means_ms": result.server_means_ms,
                    "source_reads": result.source_reads,
                    "peak_rss_bytes": result.peak_rss_bytes,
                    "statuses": result.statuses,
                    "error_samples": result.error_samples[:5],
                }
            )
    ratios = {
        workload.name: {
            "per_second": _ratio(
                summaries[workload.name]["pixgate"].per_second,
                summaries[workload.name]["bare"].per_second,
            ),
            "p50": _ratio(
                summaries[workload.name]["pixgate"].p50_ms, summaries[workload.name]["bare"].p50_ms
            ),
            "p99": _ratio(
                summaries[workload.name]["pixgate"].p99_ms, summaries[workload.name]["bare"].p99_ms
            ),
            "cpu_per_image": _ratio(
                results[workload.name]["pixgate"].cpu_ms_per_request,
                results[workload.name]["bare"].cpu_ms_per_request,
            ),
        }
        for workload in workloads
    }
    webp_key, avif_key = f"webp@{avif_concurrency}", f"avif@{avif_concurrency}"
    avif_over_webp = {
        mode: {
            "time_by_throughput": _ratio(
                summaries[webp_key][mode].per_second, summaries[avif_key][mode].per_second
            ),
            "p50": _ratio(summaries[avif_key][mode].p50_ms, summaries[webp_key][mode].p50_ms),
            "cpu_per_image": _ratio(
                results[avif_key][mode].cpu_ms_per_request,
                results[webp_key][mode].cpu_ms_per_request,
            ),
        }
        for mode in MODES
        if webp_key in summaries and avif_key in summaries
    }
    return {
        "meta": meta,
        "rows": rows,
        "ratios_pixgate_over_bare": ratios,
        "avif_over_webp": avif_over_webp,
        "pixgate_peak_rss_bytes": server_peak_rss,
    }


# --- entry point -----------------------------------------------------------------------------


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
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results JSON")
    args = parser.parse_args(argv)
    pairs = [item.partition("=") for item in args.set]
    if any(not sep for _, sep, _ in pairs):
        parser.error("--set expects PIXGATE_NAME=VALUE")
    args.set = {name.strip(): value for name, _, value in pairs}
    args.upload_plan = UploadPlan()
    if args.quick:
        args.duration, args.warmup, args.rounds = 2.0, 0.5, 2
        args.upload_plan = UploadPlan.quick()
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--rounds must be >= 1, --duration > 0, --warmup >= 0")
    if any(c < 1 for c in args.concurrency) or args.avif_concurrency < 0:
        parser.error("concurrency must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        defaults = ServerConfig.from_settings(args.set)
    except ValueError as error:
        print(f"pixgate bench: {error}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    rows = len(args.concurrency) + (1 if args.avif_concurrency else 0)
    estimate = rows * len(MODES) * (args.duration + args.rounds * (args.warmup + 0.8)) + 15
    if args.uploads:
        estimate += 20 if args.quick else 60
    print(
        f"pixgate bench: {rows} workloads x 2 modes{' + uploads' if args.uploads else ''}, "
        f"about {estimate / 60:.1f} min",
        flush=True,
    )
    loadavg_start = Path("/proc/loadavg").read_text().split()[:3]

    started = time.perf_counter()
    source = make_source()
    print(
        f"  source: {len(source):,} bytes in {time.perf_counter() - started:.1f}s",
        flush=True,
    )
    key_hex, salt_hex = secrets.token_hex(32), secrets.token_hex(16)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="pixgate-bench-") as scratch,
            aws_test_env(),
            run_moto_server() as moto,
        ):
            source_path = Path(scratch) / "source.jpg"
            source_path.write_bytes(source)
            create_bucket(moto.endpoint_url, BUCKET)
            s3_client(moto.endpoint_url).put_object(Bucket=BUCKET, Key=SOURCE_KEY, Body=source)
            with run_pixgate(
                server_settings(moto.endpoint_url, key_hex, salt_hex, args.set),
                args.output.parent / "pixgate.log",
            ) as server:
                print(f"  pixgate pid {server.pid} at {server.base_url}; moto pid {moto.pid}")
                builder = UrlBuilder(server.base_url, key_hex, salt_hex)
                workloads = make_workloads(builder, defaults, args, Path(scratch))
                first_requests = {
                    fmt: check_output(url, fmt)
                    for fmt, url in {w.output_format: w.first_url for w in workloads}.items()
                }
                results = measure(workloads, args, source_path, server)
                server_peak_rss = peak_rss_bytes(server.pid)
            uploads = (
                run_uploads(
                    args.upload_plan,
                    moto=moto,
                    key_hex=key_hex,
                    salt_hex=salt_hex,
                    overrides=args.set,
                    scratch=Path(scratch),
                    log_dir=args.output.parent,
                )
                if args.uploads
                else None
            )
    except KeyboardInterrupt:
        print("\ninterrupted; pixgate and moto stopped", file=sys.stderr)
        return 130

    summaries = {
        name: {mode: result.finish() for mode, result in per_mode.items()}
        for name, per_mode in results.items()
    }
    meta = {
        "cores": len(os.sched_getaffinity(0)),
        "server_overrides": dict(defaults.overrides),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "loadavg_start": " ".join(loadavg_start),
        "server_concurrency": defaults.concurrency,
        "webp_effort": defaults.webp_effort,
        "avif_effort": defaults.avif_effort,
        "avif_quality": defaults.avif_quality,
        "source_size": f"{SOURCE_SIZE[0]}x{SOURCE_SIZE[1]}",
        "source_bytes": len(source),
        "moto": "standalone server, loopback",
        "duration_s": args.duration,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "first_requests": first_requests,
        "elapsed_s": time.perf_counter() - started,
    }
    lines = report(workloads, results, summaries, meta, server_peak_rss, args.avif_concurrency)
    if uploads is not None:
        lines += upload_report(uploads)
    print("\n".join(lines))
    document = results_json(
        workloads, results, summaries, meta, server_peak_rss, args.avif_concurrency
    )
    if uploads is not None:
        document["uploads"] = uploads
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nresults: {args.output}  (run took {meta['elapsed_s']:.0f}s)")
    if args.peers:
        return peers_main(
            [*(["--quick"] if args.quick else []), *(f"--set={k}={v}" for k, v in args.set.items())]
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
