"""What the peer benchmark measured (`python -m loadtest.peers`), as frozen values: the
systems, each one's output check, one row per transform, concurrency and system, the
scaling rows, the memory test and the cache hits. `loadtest.peer_run` makes them,
`loadtest.peer_targets` judges them, `loadtest.peer_report` prints them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtest.machine import cores
from loadtest.results import FLAT, Machine, Measurement, Target

# The bare loop with no more threads than cores: the engine's ceiling under pixgate's own
# bound of PIXGATE_CONCURRENCY (= cores) transforms at once. Measured only when the clients
# outnumber the cores (below that it is the bare loop itself).
BARE_AT_CORES = "bare-cores"
BARE_LOOPS = ("bare", BARE_AT_CORES)
THUMBORS = ("thumbor", "thumbor0")
CACHE_MODE_LABELS = {
    "edge": "edge cache HIT (config/edge nginx)",
    "static": "nginx static file, same bytes",
}


@dataclass(frozen=True, slots=True)
class System:
    key: str
    label: str


def systems() -> tuple[System, ...]:
    count = cores()
    return (
        System("bare", "bare pyvips"),
        System(BARE_AT_CORES, f"bare, {count} threads"),
        System("pixgate", "pixgate"),
        System("thumbor", f"thumbor pool={count}"),
        System("thumbor0", "thumbor pool=0"),
        System("ipx", "ipx (sharp)"),
    )


@dataclass(frozen=True, slots=True)
class Check:
    """One request per system and transform before any load, and its quality."""

    ok: bool
    detail: str = ""
    output_bytes: int = 0
    size: str = ""
    first_ms: float = math.nan
    psnr_db: float = math.nan


@dataclass(frozen=True, slots=True)
class TransformInfo:
    key: str
    title: str
    short: str
    source: str


@dataclass(frozen=True, slots=True)
class GridRow:
    """One system on one transform at one concurrency."""

    transform: str
    system: str
    concurrency: int
    psnr_db: float | None
    measured: Measurement = field(metadata=FLAT)


@dataclass(frozen=True, slots=True)
class ScalingRow:
    """One source size to the same WebP, one client, bare loop or pixgate."""

    source: str
    megapixels: float
    mode: str
    measured: Measurement = field(metadata=FLAT)


@dataclass(frozen=True, slots=True)
class MemoryResult:
    """A fresh pixgate's peak RSS under many clients on distinct URLs of a large source."""

    source: str
    megapixels: float
    clients: int
    seconds: float
    server_concurrency: int
    rss_after_start_bytes: int
    peak_rss_bytes: int
    rss_at_end_bytes: int
    target_bytes: int
    met: bool
    completed: int
    errors: int
    statuses: Mapping[str, int]
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float


@dataclass(frozen=True, slots=True)
class CacheMode:
    """wrk's rounds on one nginx (the edge's cache or a static file), added together."""

    requests: int
    per_second: float
    round_per_second: tuple[float, ...]
    p50_ms: float  # wrk reports percentiles per run: the median of the runs' values
    p99_ms: float
    non_2xx: int
    socket_errors: int
    nginx_cpu_us_per_request: float
    nginx_cpu_cores: float
    wrk_cpu_cores: float
    wrk_cpu_us_per_request: float
    other_cpu_cores: float


@dataclass(frozen=True, slots=True)
class CacheHits:
    client: str
    wrk_version: str
    variant_bytes: int
    variant_path: str
    prime_statuses: tuple[str, ...]
    origin_requests_during_load: float
    seconds_per_round: float
    rounds: int
    modes: Mapping[str, CacheMode]


@dataclass(frozen=True, slots=True)
class CacheSkipped:
    skipped: str


@dataclass(frozen=True, slots=True)
class PeersMeta:
    """The machine, the versions and the run's settings."""

    date: str
    command: str
    machine: Machine = field(metadata=FLAT)
    peers: Mapping[str, Mapping[str, Any]]
    pixgate_overrides: Mapping[str, str]
    vips_env: Mapping[str, str]
    pixgate_concurrency: int
    pixgate_vips_threads: int
    efforts: Mapping[str, int]
    duration_s: float
    rounds: int
    warmup_s: float
    concurrency: tuple[int, ...]
    source_bytes: Mapping[str, int]
    copies: int  # hard links of each source the peers are asked for, in turn
    scaling_width: int
    elapsed_s: float
    loadavg_end: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PeersRun:
    """Everything one run measured; its JSON is var/bench/peers.json."""

    meta: PeersMeta
    systems: Mapping[str, str]  # key -> label
    transforms: tuple[TransformInfo, ...]
    unavailable: Mapping[str, str]
    checks: Mapping[str, Mapping[str, Check]]  # transform -> system -> check
    rows: tuple[GridRow, ...]
    targets: tuple[Target, ...]
    scaling: tuple[ScalingRow, ...]
    memory: MemoryResult | None
    cache_hits: CacheHits | CacheSkipped | None


def cells(rows: Sequence[GridRow]) -> dict[tuple[str, int], dict[str, Measurement]]:
    """The rows by (transform, concurrency), then system, in the order measured."""
    grid: dict[tuple[str, int], dict[str, Measurement]] = {}
    for row in rows:
        grid.setdefault((row.transform, row.concurrency), {})[row.system] = row.measured
    return grid
