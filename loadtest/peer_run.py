"""The peer benchmark's run: make the images, start pixgate, the bare loop and the peers,
check each one's output, load them in turn, and return what was measured (`PeersRun`).
Every server started here is stopped by its PID when the run ends, however it ends."""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pixgate_signing import UrlBuilder

from config.settings import variable_value
from loadtest import cachebench, imageset, machine, overrides
from loadtest.checks import check
from loadtest.imageset import CUTOUT, PHOTO, SCALING, Source
from loadtest.peer_results import (
    BARE_AT_CORES,
    BARE_LOOPS,
    THUMBORS,
    CacheHits,
    CacheSkipped,
    Check,
    GridRow,
    MemoryResult,
    PeersMeta,
    PeersRun,
    ScalingRow,
    TransformInfo,
    systems,
)
from loadtest.peer_servers import (
    PEERS_DIR,
    TRANSFORMS,
    PeerUnavailable,
    Transform,
    ensure_ipx,
    ensure_thumbor,
    ipx_path,
    peer_versions,
    pixgate_url,
    run_ipx,
    run_thumbor,
    thumbor_path,
)
from loadtest.peer_targets import peer_targets
from loadtest.processes import Server, run_pixgate
from loadtest.procfs import peak_rss_bytes
from loadtest.results import Measurement
from loadtest.segments import Segment, alternate, bare_segment, http_segment
from loadtest.stats import WindowTally

IMAGES = PEERS_DIR / "images"
COPIES = 400  # hard links per peer source, taken in turn
PIXGATE_URLS = 4000  # cachebusters per transform, taken in turn
SOURCE_CACHE_TTL_S = 3600  # the original stays in pixgate's source cache, as in loadtest.bench
MEMORY_CLIENTS = 8
MEMORY_TARGET_BYTES = 300 * 1000 * 1000
SCALING_WIDTH = 800

# --set names passed as environment to pixgate and the bare loop (libvips', glibc's).
ENVIRONMENT_PREFIXES = ("VIPS_", "MALLOC_")


@dataclass(frozen=True, slots=True)
class PeersPlan:
    """What to measure, and for how long (`python -m loadtest.peers` builds it)."""

    command: str
    log_dir: Path
    settings: Mapping[str, str]  # PIXGATE_* for pixgate (from --set)
    vips_env: Mapping[str, str]  # VIPS_* and MALLOC_* for pixgate and the bare loop
    overrides: tuple[str, ...]  # the names given with --set
    duration: float = 8.0  # measured seconds per system per row
    rounds: int = 2
    warmup: float = 1.0
    concurrency: tuple[int, ...] = (2, 4)
    transforms: tuple[str, ...] = ("T1", "T2", "T3")
    systems: tuple[str, ...] = tuple(system.key for system in systems())
    grid: bool = True
    scaling: bool = True
    memory: bool = True
    cache_hits: bool = True
    scaling_duration: float = 4.0
    memory_duration: float = 8.0
    cache_duration: float = 6.0
    cache_connections: int = 16


def parse_overrides(pairs: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """--set values: PIXGATE_* settings for pixgate; VIPS_* and MALLOC_* (libvips' and
    glibc's environment variables) for pixgate and the bare loop alike."""
    return overrides.parse_overrides(pairs, environment_prefixes=ENVIRONMENT_PREFIXES)


def encoder_efforts(overrides: Mapping[str, str]) -> dict[str, int]:
    return {
        "webp": variable_value("PIXGATE_WEBP_EFFORT", overrides),
        "avif": variable_value("PIXGATE_AVIF_EFFORT", overrides),
    }


def write_urls(folder: Path, name: str, urls: Sequence[str]) -> Path:
    path = folder / f"urls-{name}.txt"
    path.write_text("\n".join(urls) + "\n")
    return path


def pixgate_urls(builder: UrlBuilder, transform: Transform) -> list[str]:
    return [pixgate_url(builder, transform, i) for i in range(PIXGATE_URLS)]


def peer_path(key: str, transform: Transform, image: str, *, lossless: bool = False) -> str:
    path = thumbor_path if key in THUMBORS else ipx_path
    return path(transform, image, lossless=lossless)


def start_peers(
    stack: contextlib.ExitStack, log_dir: Path, unavailable: dict[str, str], wanted: set[str]
) -> dict[str, Server]:
    """Install (first time) and start the peers; one that fails is noted and left out."""
    servers: dict[str, Server] = {}
    install_log = log_dir / "peers-install.log"
    for key, pool in (("thumbor", machine.cores()), ("thumbor0", 0)):
        if key not in wanted:
            continue
        try:
            script = ensure_thumbor(install_log)
            servers[key] = stack.enter_context(run_thumbor(script, IMAGES, pool, log_dir))
        except PeerUnavailable as error:
            unavailable[key] = str(error)
    if "ipx" not in wanted:
        return servers
    try:
        servers["ipx"] = stack.enter_context(run_ipx(ensure_ipx(install_log), IMAGES, log_dir))
    except PeerUnavailable as error:
        unavailable["ipx"] = str(error)
    return servers


def run_checks(
    builder: UrlBuilder, servers: Mapping[str, Server], transforms: Sequence[Transform]
) -> dict[str, dict[str, Check]]:
    checks: dict[str, dict[str, Check]] = {}
    for transform in transforms:
        per_system = checks.setdefault(transform.key, {})
        for key, server in servers.items():
            if key == "pixgate":
                url = pixgate_url(builder, transform, PIXGATE_URLS)  # a cachebuster of its own
                reference = pixgate_url(builder, transform, None)
            else:
                name = transform.source.name
                url = server.base_url + peer_path(key, transform, name)
                reference = server.base_url + peer_path(key, transform, name, lossless=True)
            per_system[key] = check(url, reference, transform)
    return checks


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


def scaling_transform(source: Source) -> Transform:
    return Transform(
        f"{source.megapixels:.0f}MP", source, SCALING_WIDTH, 0, False, "webp", 80, flatten=False
    )


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


def run(plan: PeersPlan) -> PeersRun:
    log_dir = plan.log_dir
    transforms = [t for t in TRANSFORMS if t.key in plan.transforms] if plan.grid else []
    unavailable: dict[str, str] = {}
    started = time.perf_counter()
    sizes = imageset.ensure(IMAGES, (PHOTO, CUTOUT), copies=COPIES)
    if plan.scaling or plan.memory:
        sizes |= imageset.ensure(IMAGES, SCALING)
    print(f"  images ready in {IMAGES} ({time.perf_counter() - started:.0f}s)", flush=True)
    settings = {
        **plan.settings,
        "PIXGATE_KEY": secrets.token_hex(32),
        "PIXGATE_SALT": secrets.token_hex(16),
        "PIXGATE_STORAGE_URL": f"file://{IMAGES}",
        "PIXGATE_LOG_LEVEL": "warning",
        "PIXGATE_SOURCE_CACHE_TTL": str(SOURCE_CACHE_TTL_S),
    }
    server_settings = {**settings, **plan.vips_env}
    bare_env = {**os.environ, **plan.vips_env} if plan.vips_env else None
    efforts = encoder_efforts(settings)
    with (
        tempfile.TemporaryDirectory(prefix="pixgate-peers-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        scratch = Path(tmp)
        pixgate = stack.enter_context(run_pixgate(server_settings, log_dir / "pixgate-peers.log"))
        servers = {"pixgate": pixgate}
        if transforms:
            servers |= start_peers(stack, log_dir, unavailable, set(plan.systems))
        pids = ", ".join(f"{key} {server.pid}" for key, server in servers.items())
        print(f"  servers up ({pids})", flush=True)
        builder = UrlBuilder(pixgate.base_url, settings["PIXGATE_KEY"], settings["PIXGATE_SALT"])
        checks = run_checks(builder, servers, transforms)

        bare = bare_segment(IMAGES, efforts, bare_env)
        bare_loops = {
            "bare": bare,
            BARE_AT_CORES: bare_segment(IMAGES, efforts, bare_env, machine.cores()),
        }
        segments = {key: loop for key, loop in bare_loops.items() if key in plan.systems}
        for key, server in servers.items():
            files = {}
            for transform in transforms:
                urls = (
                    pixgate_urls(builder, transform)
                    if key == "pixgate"
                    else [
                        server.base_url + peer_path(key, transform, transform.source.copy_name(i))
                        for i in range(COPIES)
                    ]
                )
                files[transform.key] = write_urls(scratch, f"{key}-{transform.key}", urls)
            segments[key] = http_segment(server, files)
        rows = measure_grid(plan, segments, checks, transforms)
        scaling = measure_scaling(plan, builder, pixgate, bare, scratch) if plan.scaling else []
        cache_hits = measure_cache_hits(plan, builder, pixgate) if plan.cache_hits else None
        stack.close()  # the peers' memory back before the memory test
        memory = measure_memory(plan, server_settings, scratch, log_dir) if plan.memory else None

    meta = PeersMeta(
        date=time.strftime("%Y-%m-%d %H:%M:%S"),
        command=plan.command,
        cores=machine.cores(),
        cpu_model=machine.cpu_model(),
        memory_gib=machine.memory_gib(),
        platform=platform.platform(terse=True),
        python=platform.python_version(),
        libvips=machine.libvips_version(),
        git=machine.git_state(),
        peers=peer_versions(),
        pixgate_overrides={k: v for k, v in settings.items() if k in plan.overrides},
        vips_env=dict(plan.vips_env),
        pixgate_concurrency=variable_value("PIXGATE_CONCURRENCY", settings),
        pixgate_vips_threads=variable_value("PIXGATE_VIPS_THREADS", settings),
        efforts=efforts,
        duration_s=plan.duration,
        rounds=plan.rounds,
        warmup_s=plan.warmup,
        concurrency=plan.concurrency,
        source_bytes=sizes,
        copies=COPIES,
        scaling_width=SCALING_WIDTH,
        elapsed_s=time.perf_counter() - started,
        loadavg_end=machine.loadavg(),
    )
    return PeersRun(
        meta=meta,
        systems={system.key: system.label for system in systems()},
        transforms=tuple(TransformInfo(t.key, t.title, t.short, t.source.name) for t in TRANSFORMS),
        unavailable=unavailable,
        checks=checks,
        rows=tuple(rows),
        targets=peer_targets(rows),
        scaling=tuple(scaling),
        memory=memory,
        cache_hits=cache_hits,
    )
