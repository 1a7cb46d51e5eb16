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
var/bench/peers.json, and plots into var/bench/ (`python -m loadtest.plots`).
Every process started here is stopped by its PID on exit, Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pyvips
from pixgate_signing import UrlBuilder

from config.settings import VARIABLES, variable_value
from loadtest import cachebench, imageset
from loadtest.imageset import CUTOUT, PHOTO, SCALING, Source
from loadtest.peer_servers import (
    CONTENT_TYPES,
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
from loadtest.processes import REPO, Server, run_child, run_pixgate
from loadtest.procfs import peak_rss_bytes, reset_peak_rss
from loadtest.stats import WindowTally

DEFAULT_OUTPUT = REPO / "var" / "bench" / "peers.json"
IMAGES = PEERS_DIR / "images"
COPIES = 400  # hard links per peer source, taken in turn
PIXGATE_URLS = 4000  # cachebusters per transform, taken in turn
SOURCE_CACHE_TTL_S = 3600  # the original stays in pixgate's source cache, as in loadtest.bench
CHILD_SLACK_S = 90.0
MEMORY_CLIENTS = 8
MEMORY_TARGET_BYTES = 300 * 1000 * 1000
BUSY_MACHINE_CORES = 0.25
SCALING_WIDTH = 800

# Targets of issue 5: pixgate's req/s over each peer's, per transform, at every concurrency.
BARE_TARGET = 0.95
THUMBOR_TARGETS = {"T1": 1.1, "T2": 2.0, "T3": 1.4}

# --set names passed as environment to pixgate and the bare loop (libvips', glibc's).
ENVIRONMENT_PREFIXES = ("VIPS_", "MALLOC_")
# Variables the benchmark sets itself; --set may not change them.
_OWN_VARIABLES = frozenset(
    {
        "PIXGATE_KEY",
        "PIXGATE_SALT",
        "PIXGATE_STORAGE_URL",
        "PIXGATE_BIND",
        "PIXGATE_LOG_LEVEL",
        "PIXGATE_SOURCE_CACHE_TTL",
    }
)


def _cores() -> int:
    return len(os.sched_getaffinity(0))


# --- what is measured ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class System:
    key: str
    label: str


# The bare loop with no more threads than cores: the engine's ceiling under pixgate's own
# bound of PIXGATE_CONCURRENCY (= cores) transforms at once. Measured only when the clients
# outnumber the cores (below that it is the bare loop itself).
BARE_AT_CORES = "bare-cores"
BARE_LOOPS = ("bare", BARE_AT_CORES)


def systems() -> tuple[System, ...]:
    cores = _cores()
    return (
        System("bare", "bare pyvips"),
        System(BARE_AT_CORES, f"bare, {cores} threads"),
        System("pixgate", "pixgate"),
        System("thumbor", f"thumbor pool={cores}"),
        System("thumbor0", "thumbor pool=0"),
        System("ipx", "ipx (sharp)"),
    )


THUMBORS = ("thumbor", "thumbor0")


@dataclass(frozen=True, slots=True)
class Check:
    """One request per system and transform before any load, and its quality."""

    ok: bool
    detail: str = ""
    output_bytes: int = 0
    size: str = ""
    first_ms: float = math.nan
    psnr_db: float = math.nan


# --- the runners: one measured window of one system -------------------------------------------


Segment = Callable[[Transform, int, float, float], dict[str, Any]]


def bare_segment(
    efforts: Mapping[str, int], env: dict[str, str] | None, max_threads: int | None = None
) -> Segment:
    """The bare pyvips loop (its own process), doing pixgate's libvips calls: one thread per
    client, or at most `max_threads`."""

    def segment(transform: Transform, concurrency: int, duration: float, warmup: float) -> Any:
        threads = concurrency if max_threads is None else min(concurrency, max_threads)
        args = [
            "-m", "loadtest.bare",
            "--source", str(IMAGES / transform.source.name),
            "--width", str(transform.width),
            "--height", str(transform.height),
            "--crop", "centre" if transform.cover else "none",
            "--format", transform.output_format,
            "--quality", str(transform.quality),
            "--effort", str(efforts.get(transform.output_format, 0)),
            "--threads", str(threads),
            "--duration", str(duration),
            "--warmup", str(warmup),
        ]  # fmt: skip
        if transform.flatten:
            args.append("--flatten")
        return run_child(args, duration + warmup + CHILD_SLACK_S, env)

    return segment


def http_segment(server: Server, urls_files: Mapping[str, Path]) -> Segment:
    """The load client (its own process) on one server, reading the server's CPU and RSS."""

    def segment(transform: Transform, concurrency: int, duration: float, warmup: float) -> Any:
        reset_peak_rss(server.pid)
        raw: dict[str, Any] = run_child(
            [
                "-m", "loadtest.loadgen",
                "--urls-file", str(urls_files[transform.key]),
                "--concurrency", str(concurrency),
                "--duration", str(duration),
                "--warmup", str(warmup),
                "--server-pid", str(server.pid),
            ],
            duration + warmup + CHILD_SLACK_S,
        )  # fmt: skip
        raw["cpu_s"] = raw["server_cpu_s"]
        raw["output_bytes"] = raw["body_bytes_mean"]
        raw["peak_rss_bytes"] = peak_rss_bytes(server.pid)
        return raw

    return segment


def alternate(
    segments: Mapping[str, Segment],
    transform: Transform,
    concurrency: int,
    args: argparse.Namespace,
    duration: float,
) -> dict[str, WindowTally]:
    """Each system `rounds` times, forward then backward, so drift hits all alike."""
    tallies = {key: WindowTally() for key in segments}
    keys = list(segments)
    for round_index in range(args.rounds):
        for key in keys if round_index % 2 == 0 else keys[::-1]:
            raw = segments[key](transform, concurrency, duration / args.rounds, args.warmup)
            tallies[key].add(raw)
    return tallies


# --- checks before the load ------------------------------------------------------------------


def _fetch(url: str) -> tuple[int, str, bytes, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            body = response.read()
            status, content_type = response.status, response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        body, status, content_type = error.read(), error.code, ""
    return status, content_type.split(";")[0], body, (time.perf_counter() - started) * 1000


def _comparable(data: bytes) -> Any:
    """Decoded to 8-bit sRGB, alpha flattened on white (as every JPEG here is)."""
    image = pyvips.Image.new_from_buffer(data, "")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.interpretation != "srgb":
        image = image.colourspace("srgb")
    return image.cast("uchar")


def psnr_db(encoded: bytes, reference: bytes) -> float:
    """PSNR of `encoded` against `reference` (same size), over R, G and B."""
    image, truth = _comparable(encoded), _comparable(reference)
    if (image.width, image.height) != (truth.width, truth.height):
        return math.nan
    difference = image.cast("float") - truth.cast("float")
    mse = float((difference * difference).avg())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def check(url: str, reference_url: str, transform: Transform) -> Check:
    status, content_type, body, elapsed_ms = _fetch(url)
    if status != 200:
        return Check(False, f"HTTP {status}: {body[:160]!r}")
    expected = CONTENT_TYPES[transform.output_format]
    if content_type != expected:
        return Check(False, f"unsupported: asked for {expected}, got {content_type or '?'}")
    image = pyvips.Image.new_from_buffer(body, "")
    width, height = transform.expected_size()
    if abs(image.width - width) > 1 or abs(image.height - height) > 1:
        return Check(False, f"wrong size {image.width}x{image.height}, expected {width}x{height}")
    ref_status, _, reference, _ = _fetch(reference_url)
    quality = psnr_db(body, reference) if ref_status == 200 else math.nan
    return Check(True, "", len(body), f"{image.width}x{image.height}", elapsed_ms, quality)


# --- the run ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    """Everything measured, for the report and the JSON."""

    meta: dict[str, Any]
    systems: tuple[System, ...]
    unavailable: dict[str, str]
    checks: dict[str, dict[str, Check]]
    grid: dict[tuple[str, int], dict[str, WindowTally]]
    scaling: dict[str, dict[str, WindowTally]]
    memory: dict[str, Any] | None
    cache_hits: dict[str, Any] | None


def parse_overrides(pairs: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """--set values: PIXGATE_* settings for pixgate; VIPS_* and MALLOC_* (libvips' and
    glibc's environment variables) for pixgate and the bare loop alike. Rejects unknown names
    and values pixgate itself would reject."""
    variables = {variable.name: variable for variable in VARIABLES}
    settings, vips_env = {}, {}
    for name, value in pairs.items():
        if name.startswith(ENVIRONMENT_PREFIXES):
            vips_env[name] = value
        elif name in variables and name not in _OWN_VARIABLES:
            try:
                variables[name].parse(value)
            except ValueError as error:
                raise ValueError(f"--set {name}: {error}") from None
            settings[name] = value
        else:
            raise ValueError(f"--set {name}: not a PIXGATE_* setting the benchmark allows")
    return settings, vips_env


def encoder_efforts(overrides: Mapping[str, str]) -> dict[str, int]:
    return {
        "webp": variable_value("PIXGATE_WEBP_EFFORT", overrides),
        "avif": variable_value("PIXGATE_AVIF_EFFORT", overrides),
    }


def write_urls(folder: Path, name: str, urls: Sequence[str]) -> Path:
    path = folder / f"urls-{name}.txt"
    path.write_text("\n".join(urls) + "\n")
    return path


def start_peers(
    stack: contextlib.ExitStack, log_dir: Path, unavailable: dict[str, str], wanted: set[str]
) -> dict[str, Server]:
    """Install (first time) and start the peers; one that fails is noted and left out."""
    servers: dict[str, Server] = {}
    install_log = log_dir / "peers-install.log"
    for key, pool in (("thumbor", _cores()), ("thumbor0", 0)):
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


def peer_urls(
    key: str, server: Server, transform: Transform, *, reference: bool = False
) -> list[str]:
    path = thumbor_path if key in THUMBORS else ipx_path
    if reference:
        return [server.base_url + path(transform, transform.source.name, lossless=True)]
    return [server.base_url + path(transform, transform.source.copy_name(i)) for i in range(COPIES)]


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
                path = thumbor_path if key in THUMBORS else ipx_path
                url = server.base_url + path(transform, transform.source.name)
                reference = peer_urls(key, server, transform, reference=True)[0]
            per_system[key] = check(url, reference, transform)
    return checks


def measure_grid(
    args: argparse.Namespace,
    segments: Mapping[str, Segment],
    checks: Mapping[str, Mapping[str, Check]],
    transforms: Sequence[Transform],
) -> dict[tuple[str, int], dict[str, WindowTally]]:
    grid: dict[tuple[str, int], dict[str, WindowTally]] = {}
    for transform in transforms:
        usable = {
            key: segment
            for key, segment in segments.items()
            if key in BARE_LOOPS or checks[transform.key].get(key, Check(False)).ok
        }
        for concurrency in args.concurrency:
            measured = {
                key: segment
                for key, segment in usable.items()
                if key != BARE_AT_CORES or concurrency > _cores()
            }
            tallies = alternate(measured, transform, concurrency, args, args.duration)
            grid[(transform.key, concurrency)] = tallies
            rates = ", ".join(
                f"{key} {tally.summary().per_second:.1f}/s" for key, tally in tallies.items()
            )
            print(f"  {transform.key} x{concurrency}: {rates}", flush=True)
    return grid


def scaling_transform(source: Source) -> Transform:
    return Transform(
        f"{source.megapixels:.0f}MP", source, SCALING_WIDTH, 0, False, "webp", 80, flatten=False
    )


def measure_scaling(
    args: argparse.Namespace,
    builder: UrlBuilder,
    pixgate: Server,
    bare: Segment,
    scratch: Path,
) -> dict[str, dict[str, WindowTally]]:
    results: dict[str, dict[str, WindowTally]] = {}
    for source in SCALING:
        transform = scaling_transform(source)
        urls = [pixgate_url(builder, transform, i) for i in range(PIXGATE_URLS)]
        files = {transform.key: write_urls(scratch, f"pixgate-{transform.key}", urls)}
        segments = {"bare": bare, "pixgate": http_segment(pixgate, files)}
        results[transform.key] = alternate(segments, transform, 1, args, args.scaling_duration)
        tallies = results[transform.key]
        print(
            f"  {transform.key}: bare {tallies['bare'].summary().mean_ms:.0f} ms, "
            f"pixgate {tallies['pixgate'].summary().mean_ms:.0f} ms per request",
            flush=True,
        )
    return results


def measure_memory(
    args: argparse.Namespace, settings: Mapping[str, str], scratch: Path, log_dir: Path
) -> dict[str, Any]:
    """A fresh pixgate under MEMORY_CLIENTS clients on distinct URLs of the 24 MP source."""
    source = SCALING[2]
    transform = scaling_transform(source)
    key_hex, salt_hex = settings["PIXGATE_KEY"], settings["PIXGATE_SALT"]
    with run_pixgate(settings, log_dir / "pixgate-memory.log") as server:
        idle = peak_rss_bytes(server.pid)
        builder = UrlBuilder(server.base_url, key_hex, salt_hex)
        urls = [pixgate_url(builder, transform, i) for i in range(PIXGATE_URLS)]
        files = {transform.key: write_urls(scratch, "memory", urls)}
        raw = http_segment(server, files)(transform, MEMORY_CLIENTS, args.memory_duration, 0.0)
        tally = WindowTally()
        tally.add(raw)
        peak = peak_rss_bytes(server.pid)
        with open(f"/proc/{server.pid}/status", encoding="ascii") as status:
            rss_now = next(int(line.split()[1]) * 1024 for line in status if "VmRSS" in line)
    summary = tally.summary()
    return {
        "source": source.name,
        "megapixels": source.megapixels,
        "clients": MEMORY_CLIENTS,
        "seconds": args.memory_duration,
        "server_concurrency": variable_value("PIXGATE_CONCURRENCY", settings),
        "rss_after_start_bytes": idle,
        "peak_rss_bytes": peak,
        "rss_at_end_bytes": rss_now,
        "target_bytes": MEMORY_TARGET_BYTES,
        "met": peak < MEMORY_TARGET_BYTES,
        "completed": summary.completed,
        "errors": summary.errors,
        "statuses": tally.statuses,
        "p50_ms": summary.p50_ms,
        "p99_ms": summary.p99_ms,
        "cpu_ms_per_request": tally.cpu_ms_per_request,
    }


def run(args: argparse.Namespace, settings: dict[str, str], vips_env: dict[str, str]) -> Run:
    log_dir = args.output.parent
    transforms = [t for t in TRANSFORMS if t.key in args.transforms] if args.grid else []
    unavailable: dict[str, str] = {}
    started = time.perf_counter()
    sizes = imageset.ensure(IMAGES, (PHOTO, CUTOUT), copies=COPIES)
    if args.scaling or args.memory:
        sizes |= imageset.ensure(IMAGES, SCALING)
    print(f"  images ready in {IMAGES} ({time.perf_counter() - started:.0f}s)", flush=True)
    settings = {
        **settings,
        "PIXGATE_KEY": secrets.token_hex(32),
        "PIXGATE_SALT": secrets.token_hex(16),
        "PIXGATE_STORAGE_URL": f"file://{IMAGES}",
        "PIXGATE_LOG_LEVEL": "warning",
        "PIXGATE_SOURCE_CACHE_TTL": str(SOURCE_CACHE_TTL_S),
    }
    server_settings = {**settings, **vips_env}
    bare_env = {**os.environ, **vips_env} if vips_env else None
    with (
        tempfile.TemporaryDirectory(prefix="pixgate-peers-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        scratch = Path(tmp)
        pixgate = stack.enter_context(run_pixgate(server_settings, log_dir / "pixgate-peers.log"))
        servers = {"pixgate": pixgate}
        if transforms:
            servers |= start_peers(stack, log_dir, unavailable, set(args.systems))
        pids = ", ".join(f"{key} {server.pid}" for key, server in servers.items())
        print(f"  servers up ({pids})", flush=True)
        builder = UrlBuilder(pixgate.base_url, settings["PIXGATE_KEY"], settings["PIXGATE_SALT"])
        checks = run_checks(builder, servers, transforms)

        efforts = encoder_efforts(settings)
        bare = bare_segment(efforts, bare_env)
        bare_loops = {"bare": bare, BARE_AT_CORES: bare_segment(efforts, bare_env, _cores())}
        segments = {key: loop for key, loop in bare_loops.items() if key in args.systems}
        for key, server in servers.items():
            files = {}
            for transform in transforms:
                urls = (
                    [pixgate_url(builder, transform, i) for i in range(PIXGATE_URLS)]
                    if key == "pixgate"
                    else peer_urls(key, server, transform)
                )
                files[transform.key] = write_urls(scratch, f"{key}-{transform.key}", urls)
            segments[key] = http_segment(server, files)
        grid = measure_grid(args, segments, checks, transforms)

        scaling: dict[str, dict[str, WindowTally]] = {}
        if args.scaling:
            scaling = measure_scaling(args, builder, pixgate, bare, scratch)
        cache_hits: dict[str, Any] | None = None
        if args.cache_hits:
            variant = builder.path(PHOTO.name, width=800, format="webp", quality=80)
            try:
                cache_hits = cachebench.measure(
                    pixgate,
                    variant,
                    PEERS_DIR,
                    seconds=args.cache_duration / args.rounds,
                    rounds=args.rounds,
                    connections=args.cache_connections,
                )
                print("  cache hits measured", flush=True)
            except cachebench.CacheBenchUnavailable as error:
                cache_hits = {"skipped": str(error)}
        stack.close()  # the peers' memory back before the memory test
        memory = measure_memory(args, server_settings, scratch, log_dir) if args.memory else None

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": "python -m loadtest.peers " + " ".join(args.argv),
        "cores": _cores(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "git": _git_state(),
        "peers": peer_versions(),
        "pixgate_overrides": {k: v for k, v in settings.items() if k in args.set},
        "vips_env": vips_env,
        "pixgate_concurrency": variable_value("PIXGATE_CONCURRENCY", settings),
        "pixgate_vips_threads": variable_value("PIXGATE_VIPS_THREADS", settings),
        "efforts": encoder_efforts(settings),
        "duration_s": args.duration,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "concurrency": args.concurrency,
        "source_bytes": sizes,
        "elapsed_s": time.perf_counter() - started,
        "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
    }
    return Run(meta, systems(), unavailable, checks, grid, scaling, memory, cache_hits)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "?"


def _git_state() -> str:
    def git(*argv: str) -> str:
        result = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True)
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return commit + (" + uncommitted changes" if dirty else "")


# --- reporting -------------------------------------------------------------------------------


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator and not math.isnan(denominator) else math.nan


def _mib(value: float) -> str:
    return f"{value / (1 << 20):.0f} MiB"


def thumbor_best(tallies: Mapping[str, WindowTally]) -> str | None:
    """The thumbor configuration with more req/s at this concurrency."""
    present = [key for key in THUMBORS if key in tallies]
    if not present:
        return None
    return max(present, key=lambda key: tallies[key].summary().per_second)


def targets(run_: Run) -> list[dict[str, Any]]:
    """The issue's targets: pixgate's req/s over each peer's, at every concurrency; and the
    same ratio by CPU per request (the peer's CPU ms per request over pixgate's), which a
    busy machine disturbs far less than req/s (it shares out CPU by runnable threads)."""
    rows = []
    for transform_key in sorted({key for key, _ in run_.grid}):
        wanted: list[tuple[str, str, float, bool]] = [
            ("bare pyvips", "bare", BARE_TARGET, False),
            ("thumbor best config", "thumbor-best", THUMBOR_TARGETS[transform_key], False),
            ("ipx", "ipx", 1.0, True),
        ]
        for name, peer, target, strictly in wanted:
            by_rate: dict[int, float] = {}
            by_cpu: dict[int, float] = {}
            for (key, concurrency), tallies in run_.grid.items():
                if key != transform_key or "pixgate" not in tallies:
                    continue
                pixgate = tallies["pixgate"]
                if peer == "thumbor-best":
                    best = thumbor_best(tallies)
                    cheapest = [tallies[k].cpu_ms_per_request for k in THUMBORS if k in tallies]
                    if best is None:
                        continue
                    rate, cpu = tallies[best].summary().per_second, min(cheapest)
                elif peer in tallies:
                    rate, cpu = tallies[peer].summary().per_second, tallies[peer].cpu_ms_per_request
                else:
                    continue
                by_rate[concurrency] = _ratio(pixgate.summary().per_second, rate)
                by_cpu[concurrency] = _ratio(cpu, pixgate.cpu_ms_per_request)
            rows.append(
                {
                    "transform": transform_key,
                    "peer": name,
                    "target": f"{'>' if strictly else '>='} {target:g}x",
                    "ratios": by_rate,
                    "status": _status(by_rate, target, strictly),
                    "cpu_ratios": by_cpu,
                    "cpu_status": _status(by_cpu, target, strictly),
                }
            )
    return rows


def _status(values: Mapping[int, float], target: float, strictly: bool) -> str:
    if not values:
        return "n/a"
    met = all((v > target) if strictly else (v >= target) for v in values.values())
    return "MET" if met else "MISSED"


def report(run_: Run) -> list[str]:
    lines: list[str] = []
    out = lines.append
    meta = run_.meta
    labels = {system.key: system.label for system in run_.systems}
    out("")
    out(f"pixgate vs peers  {meta['date']}   ({meta['command']})")
    out(
        f"  machine: {meta['cores']} cores ({meta['cpu_model']}), {meta['memory_gib']} GiB, "
        f"{meta['platform']}, Python {meta['python']}, libvips {meta['libvips']}; "
        f"pixgate at {meta['git']}"
    )
    out(
        "  bare pyvips: thumbnail + save from bytes in memory, one thread per client, libvips' "
        "defaults (threads per image = cores) unless --set gives VIPS_*; pixgate's encoder efforts"
    )
    out(
        f"  bare, {meta['cores']} threads: the same loop with no more threads than cores, as "
        "pixgate runs no more transforms than PIXGATE_CONCURRENCY; only where clients > cores"
    )
    peers = meta["peers"]
    if "thumbor" in peers:
        t = peers["thumbor"]
        out(
            f"  thumbor {t['thumbor']} (Pillow {t['pillow']}, libjpeg {t['libjpeg']}, "
            f"libwebp {t['libwebp']}, libavif {t['libavif']}): file loader, no storage, "
            f"no result storage; ENGINE_THREADPOOL_SIZE {meta['cores']} and 0"
        )
    if "ipx" in peers:
        i = peers["ipx"]
        out(
            f"  ipx {i['ipx']} (sharp {i['sharp']}, libvips {i['libvips']}, Node "
            f"{i['node']}; sharp.concurrency {i['sharp_concurrency']}, libuv pool "
            f"{i['uv_threadpool']}): `ipx serve --dir`, defaults"
        )
    out(
        f"  pixgate: PIXGATE_CONCURRENCY={meta['pixgate_concurrency']}, "
        f"PIXGATE_VIPS_THREADS={meta.get('pixgate_vips_threads', '-')}, WebP effort "
        f"{meta['efforts']['webp']}, AVIF effort {meta['efforts']['avif']}, file storage, source "
        f"cache on (holds the original, as the bare loop holds its bytes)"
        + (f"; --set {meta['pixgate_overrides']}" if meta["pixgate_overrides"] else "")
        + (f"; env {meta['vips_env']}" if meta["vips_env"] else "")
    )
    out(
        f"  load: closed-loop aiohttp client (loadtest.loadgen) in its own process; "
        f"{meta['duration_s']:g}s measured per system per row in {meta['rounds']} alternating "
        f"rounds, {meta['warmup_s']:g}s warm-up each; every request a distinct URL "
        f"(pixgate cb:N, peers one of {COPIES} hard links of the source): each one transforms"
    )
    for key, reason in run_.unavailable.items():
        out(f"  {labels[key]}: NOT MEASURED: {reason.splitlines()[0]}")
    for transform in TRANSFORMS:
        if any(key == transform.key for key, _ in run_.grid):
            lines += _transform_table(run_, transform, labels)
    lines += _target_lines(run_)
    lines += _scaling_lines(run_)
    lines += _memory_lines(run_)
    lines += _cache_lines(run_)
    return lines


def _transform_table(run_: Run, transform: Transform, labels: Mapping[str, str]) -> list[str]:
    lines: list[str] = []
    out = lines.append
    source_bytes = run_.meta["source_bytes"].get(transform.source.name, 0)
    out("")
    out(f"{transform.key}  {transform.title}   (source {source_bytes:,} bytes)")
    header = (
        f"  {'system':<18}{'conc':>5}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>7}"
        f"{'CPU ms/req':>11}{'out bytes':>10}{'PSNR dB':>8}{'peak RSS':>10}"
    )
    out(header)
    out("  " + "-" * (len(header) - 2))
    checks = run_.checks.get(transform.key, {})
    for (key, concurrency), tallies in run_.grid.items():
        if key != transform.key:
            continue
        for system, tally in tallies.items():
            summary = tally.summary()
            quality = checks[system].psnr_db if system in checks else math.nan
            quality_text = "(=pg)" if system in BARE_LOOPS else f"{quality:.1f}"
            out(
                f"  {labels[system]:<18}{concurrency:>5}{summary.per_second:>8.1f}"
                f"{summary.p50_ms:>9.0f}{summary.p99_ms:>9.0f}{summary.errors:>7}"
                f"{tally.cpu_ms_per_request:>11.1f}{tally.output_bytes:>10,.0f}"
                f"{quality_text:>8}{_mib(tally.peak_rss_bytes):>10}"
            )
    for system, result in checks.items():
        if not result.ok:
            out(f"  {labels[system]}: {result.detail}")
    out(
        f"  {'ratio pixgate/peer':<24}{'req/s (per round)':<24}{'CPU/req peer/pg':>16}"
        f"{'bytes pg/peer':>15}"
    )
    for (key, concurrency), tallies in run_.grid.items():
        if key != transform.key or "pixgate" not in tallies:
            continue
        pixgate = tallies["pixgate"]
        for system, tally in tallies.items():
            if system == "pixgate":
                continue
            rounds = [
                _ratio(p, o)
                for p, o in zip(pixgate.segment_rates, tally.segment_rates, strict=True)
            ]
            per_second = _ratio(pixgate.summary().per_second, tally.summary().per_second)
            spread = f"{per_second:.2f} ({min(rounds):.2f}-{max(rounds):.2f})"
            out(
                f"  {labels[system] + ' x' + str(concurrency):<24}{spread:<24}"
                f"{_ratio(tally.cpu_ms_per_request, pixgate.cpu_ms_per_request):>16.2f}"
                f"{_ratio(pixgate.output_bytes, tally.output_bytes):>15.2f}"
            )
    noise = max(
        (
            t.other_cores
            for (k, _), ts in run_.grid.items()
            if k == transform.key
            for t in ts.values()
        ),
        default=0.0,
    )
    client = [
        t.per_request_ms(t.client_cpu_s)
        for (k, _), ts in run_.grid.items()
        if k == transform.key
        for s, t in ts.items()
        if s not in BARE_LOOPS
    ]
    loop = [
        f"x{c} {ts['pixgate'].per_request_ms(ts['pixgate'].loop_cpu_s):.1f}"
        for (k, c), ts in run_.grid.items()
        if k == transform.key and "pixgate" in ts
    ]
    out(f"  pixgate's event-loop thread, CPU ms per request: {', '.join(loop)}")
    out(
        f"  load client CPU {min(client, default=math.nan):.1f}-{max(client, default=math.nan):.1f}"
        f" ms/request; other processes on the machine up to {noise:.2f} cores"
        + ("  WARNING: busy machine, ratios less reliable" if noise > BUSY_MACHINE_CORES else "")
    )
    return lines


def _target_lines(run_: Run) -> list[str]:
    lines = [
        "",
        "targets (issue 5), at every concurrency: pixgate req/s over the peer's; and by CPU, "
        "the peer's CPU ms per request over pixgate's",
    ]
    for row in targets(run_):
        by_rate = " ".join(f"x{c} {v:.2f}" for c, v in sorted(row["ratios"].items())) or "-"
        by_cpu = " ".join(f"x{c} {v:.2f}" for c, v in sorted(row["cpu_ratios"].items())) or "-"
        lines.append(
            f"  {row['transform']} vs {row['peer']:<20} {row['target']:<8} req/s {by_rate:<16} "
            f"{row['status']:<7} | CPU {by_cpu:<16} {row['cpu_status']}"
        )
    return lines


def _scaling_lines(run_: Run) -> list[str]:
    if not run_.scaling:
        return []
    lines = [
        "",
        f"scaling: source size -> {SCALING_WIDTH}px WebP q80, one client (closed loop)",
        f"  {'source':<12}{'MP':>5}{'bytes':>12}{'bare ms':>9}{'pixgate ms':>11}{'ratio':>7}"
        f"{'bare CPU':>10}{'pg CPU':>8}{'x of 1 MP (pg)':>15}",
    ]
    first: float | None = None
    sizes = run_.meta["source_bytes"]
    for source in SCALING:
        key = scaling_transform(source).key
        if key not in run_.scaling:
            continue
        bare, pixgate = run_.scaling[key]["bare"], run_.scaling[key]["pixgate"]
        pixgate_ms = pixgate.summary().mean_ms
        first = first or pixgate_ms
        lines.append(
            f"  {source.width}x{source.height:<7}{source.megapixels:>5.1f}"
            f"{sizes.get(source.name, 0):>12,}{bare.summary().mean_ms:>9.0f}{pixgate_ms:>11.0f}"
            f"{_ratio(pixgate_ms, bare.summary().mean_ms):>7.2f}{bare.cpu_ms_per_request:>10.0f}"
            f"{pixgate.cpu_ms_per_request:>8.0f}{_ratio(pixgate_ms, first):>15.2f}"
        )
    lines.append("  (ms = mean time per request; CPU = CPU ms per request of the server/loop)")
    return lines


def _memory_lines(run_: Run) -> list[str]:
    memory = run_.memory
    if memory is None:
        return []
    status = "MET" if memory["met"] else "MISSED"
    return [
        "",
        f"memory: a fresh pixgate (PIXGATE_CONCURRENCY={memory['server_concurrency']}), "
        f"{memory['clients']} clients on distinct URLs of the {memory['megapixels']:.0f} MP "
        f"source for {memory['seconds']:g}s",
        f"  peak RSS (VmHWM) {memory['peak_rss_bytes'] / 1e6:.0f} MB "
        f"({_mib(memory['peak_rss_bytes'])}); after start-up "
        f"{_mib(memory['rss_after_start_bytes'])}, at the end {_mib(memory['rss_at_end_bytes'])}; "
        f"target < 300 MB: {status}",
        f"  {memory['completed']} requests, {memory['errors']} errors {memory['statuses']}, "
        f"p50 {memory['p50_ms']:.0f} ms, p99 {memory['p99_ms']:.0f} ms",
    ]


def _cache_lines(run_: Run) -> list[str]:
    cache = run_.cache_hits
    if cache is None:
        return []
    if "skipped" in cache:
        return ["", f"cache hits: skipped: {cache['skipped']}"]
    lines = [
        "",
        f"cache hits: one {cache['variant_bytes']:,}-byte WebP variant; {cache['client']} "
        f"(wrk {cache['wrk_version']}), {cache['seconds_per_round']:g}s x {cache['rounds']} "
        f"alternating rounds each",
        f"  {'':<38}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'nginx µs/req':>13}"
        f"{'nginx cores':>12}{'wrk cores':>10}{'errors':>7}",
    ]
    modes = cache["modes"]
    for mode, label in cachebench.MODE_LABELS.items():
        m = modes[mode]
        lines.append(
            f"  {label:<38}{m['per_second']:>9,.0f}{m['p50_ms']:>8.2f}{m['p99_ms']:>8.2f}"
            f"{m['nginx_cpu_us_per_request']:>13.0f}{m['nginx_cpu_cores']:>12.2f}"
            f"{m['wrk_cpu_cores']:>10.2f}{m['non_2xx'] + m['socket_errors']:>7}"
        )
    edge, static = modes["edge"], modes["static"]
    by_cpu = _ratio(edge["nginx_cpu_us_per_request"], static["nginx_cpu_us_per_request"])
    lines.append(
        f"  edge/static: {_ratio(edge['per_second'], static['per_second']):.2f} by req/s, "
        f"{by_cpu:.2f} by nginx CPU per request; requests that reached pixgate during the "
        f"edge load: {cache['origin_requests_during_load']:.0f} "
        f"(first requests: {cache['prime_statuses']})"
    )
    return lines


def results_json(run_: Run) -> dict[str, Any]:
    def tally_row(tally: WindowTally) -> dict[str, Any]:
        return {
            **tally.summary().as_dict(),
            "cpu_ms_per_request": tally.cpu_ms_per_request,
            "client_cpu_ms_per_request": tally.per_request_ms(tally.client_cpu_s),
            "main_thread_cpu_ms_per_request": tally.per_request_ms(tally.loop_cpu_s),
            "other_cpu_cores": tally.other_cores,
            "output_bytes": tally.output_bytes,
            "peak_rss_bytes": tally.peak_rss_bytes,
            "segment_per_second": tally.segment_rates,
            "statuses": tally.statuses,
            "error_samples": tally.error_samples[:5],
        }

    rows = []
    for (key, concurrency), tallies in run_.grid.items():
        for system, tally in tallies.items():
            check_ = run_.checks.get(key, {}).get(system)
            rows.append(
                {
                    "transform": key,
                    "system": system,
                    "concurrency": concurrency,
                    "psnr_db": check_.psnr_db if check_ else None,
                    **tally_row(tally),
                }
            )
    scaling = [
        {
            "source": source.name,
            "megapixels": source.megapixels,
            "mode": mode,
            **tally_row(run_.scaling[scaling_transform(source).key][mode]),
        }
        for source in SCALING
        if scaling_transform(source).key in run_.scaling
        for mode in ("bare", "pixgate")
    ]
    return {
        "meta": run_.meta,
        "systems": {system.key: system.label for system in run_.systems},
        "transforms": [
            {"key": t.key, "title": t.title, "short": t.short, "source": t.source.name}
            for t in TRANSFORMS
        ],
        "unavailable": run_.unavailable,
        "checks": {
            key: {system: asdict(c) for system, c in per_system.items()}
            for key, per_system in run_.checks.items()
        },
        "rows": rows,
        "targets": targets(run_),
        "scaling": scaling,
        "memory": run_.memory,
        "cache_hits": run_.cache_hits,
    }


def _json_safe(value: Any) -> Any:
    """NaN and infinity as null: JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# --- entry point -----------------------------------------------------------------------------


def estimate_s(args: argparse.Namespace) -> float:
    per_segment: float = args.warmup + 0.8  # start-up of the client or loop
    grid = (
        len(args.transforms)
        * args.grid
        * len(args.concurrency)
        * len(set(args.systems) | {"pixgate"})
        * (args.duration + args.rounds * per_segment)
    )
    scaling = len(SCALING) * 2 * (args.scaling_duration + args.rounds * per_segment)
    memory = args.memory_duration + 5
    cache = args.cache_duration * 2 + 6
    total: float = (
        20
        + grid
        + (scaling if args.scaling else 0)
        + (memory if args.memory else 0)
        + (cache if args.cache_hits else 0)
    )
    return total


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
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results JSON")
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    pairs = [item.partition("=") for item in args.set]
    if any(not sep for _, sep, _ in pairs):
        parser.error("--set expects NAME=VALUE")
    args.set = {name.strip(): value for name, _, value in pairs}
    if args.quick:
        args.duration, args.rounds, args.warmup = 1.5, 1, 0.5
        args.scaling_duration, args.memory_duration, args.cache_duration = 1.5, 3.0, 2.0
        args.concurrency = [2]
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0 or args.scaling_duration <= 0:
        parser.error("--rounds must be >= 1, durations > 0, --warmup >= 0")
    if any(c < 1 for c in args.concurrency):
        parser.error("--concurrency must be >= 1")
    return args


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        settings, vips_env = parse_overrides(args.set)
    except ValueError as error:
        print(f"pixgate peers: {error}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    systems_count = len(set(args.systems) | {"pixgate"})
    print(
        f"pixgate peers: {len(args.transforms)} transforms x {len(args.concurrency)} "
        f"concurrencies x {systems_count} systems, about {estimate_s(args) / 60:.1f} min "
        f"(+ installing peers and making images on a first run)",
        flush=True,
    )
    try:
        result = run(args, settings, vips_env)
    except KeyboardInterrupt:
        print("\ninterrupted; every server started here was stopped", file=sys.stderr)
        return 130
    print("\n".join(report(result)))
    args.output.write_text(json.dumps(_json_safe(results_json(result)), indent=2) + "\n")
    print(f"\nresults: {args.output}  (run took {result.meta['elapsed_s']:.0f}s)")
    if args.plot:
        plots = subprocess.run(
            [sys.executable, "-m", "loadtest.plots", "--input", str(args.output)], cwd=REPO
        )
        if plots.returncode != 0:
            print("plots: failed (see above); the JSON is complete", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
