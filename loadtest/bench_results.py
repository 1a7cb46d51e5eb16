"""What `python -m loadtest.bench` measured, as frozen values: a row per workload and mode
(pixgate or the bare pyvips loop), the ratios derived from them, and the run's meta. Its
JSON is var/bench/results.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from loadtest.report import ratio
from loadtest.results import FLAT, Machine, Measurement
from loadtest.upload_results import Uploads, UploadsSkipped

MODES = ("bare", "pixgate")
MODE_LABELS = {"bare": "bare pyvips", "pixgate": "pixgate"}


@dataclass(frozen=True, slots=True)
class ModeRow:
    """One mode on one workload (an output format at one concurrency)."""

    workload: str
    format: str
    quality: int
    effort: int
    concurrency: int
    mode: str
    measured: Measurement = field(metadata=FLAT)
    server_means_ms: Mapping[str, float]  # from pixgate's /metrics: handler, transform
    source_reads: Mapping[str, float]  # source cache hits and misses, S3 fetches


@dataclass(frozen=True, slots=True)
class PixgateOverBare:
    per_second: float
    p50: float
    p99: float
    mean: float
    cpu_per_image: float
    rounds: tuple[float, ...]  # req/s, round by round


@dataclass(frozen=True, slots=True)
class AvifOverWebp:
    """What AVIF costs over WebP for one mode at the same concurrency."""

    time_by_throughput: float
    p50: float
    cpu_per_image: float


@dataclass(frozen=True, slots=True)
class FirstRequest:
    ms: float
    bytes: int
    size: str


@dataclass(frozen=True, slots=True)
class BenchMeta:
    machine: Machine = field(metadata=FLAT)
    server_overrides: Mapping[str, str]
    loadavg_start: str
    server_concurrency: int
    webp_effort: int
    avif_effort: int
    avif_quality: int
    source_size: str
    source_quality: int
    source_bytes: int
    moto: str
    duration_s: float
    rounds: int
    warmup_s: float
    distinct_urls: int
    target_width: int
    source_cache_ttl_s: int
    avif_concurrency: int
    first_requests: Mapping[str, FirstRequest]
    date: str
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class BenchRun:
    meta: BenchMeta
    rows: tuple[ModeRow, ...]
    ratios_pixgate_over_bare: Mapping[str, PixgateOverBare]
    avif_over_webp: Mapping[str, AvifOverWebp]
    pixgate_peak_rss_bytes: int
    uploads: Uploads | UploadsSkipped | None = None  # loadtest.upload_bench's section


def by_workload(rows: Sequence[ModeRow]) -> dict[str, dict[str, ModeRow]]:
    """The rows by workload, then mode, in the order measured."""
    grouped: dict[str, dict[str, ModeRow]] = {}
    for row in rows:
        grouped.setdefault(row.workload, {})[row.mode] = row
    return grouped


def pixgate_over_bare(rows: Sequence[ModeRow]) -> dict[str, PixgateOverBare]:
    ratios = {}
    for workload, modes in by_workload(rows).items():
        pixgate, bare = modes["pixgate"].measured, modes["bare"].measured
        ratios[workload] = PixgateOverBare(
            per_second=ratio(pixgate.per_second, bare.per_second),
            p50=ratio(pixgate.summary.p50_ms, bare.summary.p50_ms),
            p99=ratio(pixgate.summary.p99_ms, bare.summary.p99_ms),
            mean=ratio(pixgate.summary.mean_ms, bare.summary.mean_ms),
            cpu_per_image=ratio(pixgate.cpu_ms_per_request, bare.cpu_ms_per_request),
            rounds=tuple(
                ratio(p, b)
                for p, b in zip(pixgate.segment_per_second, bare.segment_per_second, strict=True)
            ),
        )
    return ratios


def avif_over_webp(rows: Sequence[ModeRow], concurrency: int) -> dict[str, AvifOverWebp]:
    """Per mode, AVIF's cost over WebP's at `concurrency`, where both were measured."""
    grouped = by_workload(rows)
    webp, avif = grouped.get(f"webp@{concurrency}"), grouped.get(f"avif@{concurrency}")
    if webp is None or avif is None:
        return {}
    return {
        mode: AvifOverWebp(
            time_by_throughput=ratio(
                webp[mode].measured.per_second, avif[mode].measured.per_second
            ),
            p50=ratio(avif[mode].measured.summary.p50_ms, webp[mode].measured.summary.p50_ms),
            cpu_per_image=ratio(
                avif[mode].measured.cpu_ms_per_request, webp[mode].measured.cpu_ms_per_request
            ),
        )
        for mode in MODES
    }
