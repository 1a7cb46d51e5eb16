"""The peer benchmark's measurements, over servers already running (the memory test
starts a fresh pixgate of its own): the grid of systems, transforms and concurrencies;
cost against source size; peak RSS under large sources; cache hits through the edge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pixgate_signing import UrlBuilder

from config.settings import variable_value
from loadtest import cachebench, machine
from loadtest.imageset import PHOTO, SCALING
from loadtest.peer_plan import (
    MEMORY_CLIENTS,
    MEMORY_TARGET_BYTES,
    PeersPlan,
    pixgate_urls,
    scaling_transform,
    write_urls,
)
from loadtest.peer_results import (
    BARE_AT_CORES,
    BARE_LOOPS,
    CacheHits,
    CacheSkipped,
    Check,
    GridRow,
    MemoryResult,
    ScalingRow,
)
from loadtest.peer_servers import PEERS_DIR, Transform
from loadtest.processes import Server, run_pixgate
from loadtest.procfs import peak_rss_bytes
from loadtest.results import Measurement
from loadtest.segments import Segment, alternate, http_segment
from loadtest.stats import WindowTally


def measure_grid(
    plan: PeersPlan,
    segments: Mapping[str, Segment],
    checks: Mapping[str, Mapping[str, Check]],
    transforms: Sequence[Transform],
) -> list[GridRow]:
    rows: list[GridRow] = []
    for transform in transforms:
        usable = {
            key: segment
            for key, segment in segments.items()
            if key in BARE_LOOPS or checks[transform.key].get(key, Check(False)).ok
        }
        for concurrency in plan.concurrency:
            measured = {
                key: segment
                for key, segment in usable.items()
                if key != BARE_AT_CORES or concurrency > machine.cores()
            }
            tallies = alternate(
                measured,
                transform,
                concurrency,
                rounds=plan.rounds,
                duration=plan.duration,
                warmup=plan.warmup,
                new_tally=WindowTally,
            )
            for system, tally in tallies.items():
                check_ = checks.get(transform.key, {}).get(system)
                psnr = check_.psnr_db if check_ else None
                rows.append(
                    GridRow(transform.key, system, concurrency, psnr, Measurement.of(tally))
                )
            rates = ", ".join(
                f"{key} {tally.summary().per_second:.1f}/s" for key, tally in tallies.items()
            )
            print(f"  {transform.key} x{concurrency}: {rates}", flush=True)
    return rows


def measure_scaling(
    plan: PeersPlan, builder: UrlBuilder, pixgate: Server, bare: Segment, scratch: Path
) -> list[ScalingRow]:
    rows: list[ScalingRow] = []
    for source in SCALING:
        transform = scaling_transform(source)
        urls = pixgate_urls(builder, transform)
        files = {transform.key: write_urls(scratch, f"pixgate-{transform.key}", urls)}
        segments = {"bare": bare, "pixgate": http_segment(pixgate, files)}
        tallies = alternate(
            segments,
            transform,
            1,
            rounds=plan.rounds,
            duration=plan.scaling_duration,
            warmup=plan.warmup,
            new_tally=WindowTally,
        )
        rows += [
            ScalingRow(source.name, source.megapixels, mode, Measurement.of(tally))
            for mode, tally in tallies.items()
        ]
        print(
            f"  {transform.key}: bare {tallies['bare'].summary().mean_ms:.0f} ms, "
            f"pixgate {tallies['pixgate'].summary().mean_ms:.0f} ms per request",
            flush=True,
        )
    return rows


def measure_memory(
    plan: PeersPlan, settings: Mapping[str, str], scratch: Path, log_dir: Path
) -> MemoryResult:
    """A fresh pixgate under MEMORY_CLIENTS clients on distinct URLs of the 24 MP source."""
    source = SCALING[2]
    transform = scaling_transform(source)
    key_hex, salt_hex = settings["PIXGATE_KEY"], settings["PIXGATE_SALT"]
    with run_pixgate(settings, log_dir / "pixgate-memory.log") as server:
        idle = peak_rss_bytes(server.pid)
        builder = UrlBuilder(server.base_url, key_hex, salt_hex)
        files = {transform.key: write_urls(scratch, "memory", pixgate_urls(builder, transform))}
        raw = http_segment(server, files)(transform, MEMORY_CLIENTS, plan.memory_duration, 0.0)
        tally = WindowTally()
        tally.add(raw)
        peak = peak_rss_bytes(server.pid)
        with open(f"/proc/{server.pid}/status", encoding="ascii") as status:
            rss_now = next(int(line.split()[1]) * 1024 for line in status if "VmRSS" in line)
    summary = tally.summary()
    return MemoryResult(
        source=source.name,
        megapixels=source.megapixels,
        clients=MEMORY_CLIENTS,
        seconds=plan.memory_duration,
        server_concurrency=variable_value("PIXGATE_CONCURRENCY", settings),
        rss_after_start_bytes=idle,
        peak_rss_bytes=peak,
        rss_at_end_bytes=rss_now,
        target_bytes=MEMORY_TARGET_BYTES,
        met=peak < MEMORY_TARGET_BYTES,
        completed=summary.completed,
        errors=summary.errors,
        statuses=tally.statuses,
        p50_ms=summary.p50_ms,
        p99_ms=summary.p99_ms,
        cpu_ms_per_request=tally.cpu_ms_per_request,
    )


def measure_cache_hits(
    plan: PeersPlan, builder: UrlBuilder, pixgate: Server
) -> CacheHits | CacheSkipped:
    variant = builder.path(PHOTO.name, width=800, format="webp", quality=80)
    try:
        hits = cachebench.measure(
            pixgate,
            variant,
            PEERS_DIR,
            seconds=plan.cache_duration / plan.rounds,
            rounds=plan.rounds,
            connections=plan.cache_connections,
        )
    except cachebench.CacheBenchUnavailable as error:
        return CacheSkipped(str(error))
    print("  cache hits measured", flush=True)
    return hits
