"""What the upload section of `make bench` measured (`loadtest.upload_bench`), as frozen
values: a row per phase (sequential, concurrent) and mode (pixgate, or its pieces without
HTTP), the ratios between them, the p95 target and what landed in storage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from loadtest.report import ratio
from loadtest.results import FLAT
from loadtest.stats import Summary

MODES = ("pixgate", "pieces")


@dataclass(frozen=True, slots=True)
class UploadPlan:
    sequential: int = 50
    concurrent: int = 80
    concurrency: int = 4
    warmup: int = 2

    @classmethod
    def quick(cls) -> UploadPlan:
        return cls(sequential=10, concurrent=16, warmup=1)


@dataclass(frozen=True, slots=True)
class UploadRow:
    phase: str  # sequential or concurrent
    mode: str  # pixgate or pieces
    concurrency: int
    summary: Summary = field(metadata=FLAT)
    steps_mean_ms: Mapping[str, float]  # the pieces: inspect, sha256, put, insert
    cpu_ms_per_upload: Mapping[str, float]  # per process: driver, server, moto, postgres
    other_cpu_cores: float
    segment_per_second: tuple[float, ...]
    segment_other_cores: tuple[float, ...]
    server_means_ms: Mapping[str, float]  # pixgate's /metrics: handler, service, pool_wait
    statuses: Mapping[str, int]
    error_samples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PixgateOverPieces:
    per_second: float
    mean_ms: float
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True, slots=True)
class Photo:
    size: str
    quality: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Stored:
    rows: int
    objects: int
    expected: int  # every successful upload, warm-ups included

    @property
    def ok(self) -> bool:
        return self.rows == self.objects == self.expected


@dataclass(frozen=True, slots=True)
class Uploads:
    photo: Photo
    plan: UploadPlan
    pixgate_concurrency: int
    rows: tuple[UploadRow, ...]
    ratios_pixgate_over_pieces: Mapping[str, PixgateOverPieces]
    target_p95_ms: float
    sequential_p95_ms: float
    sequential_p95_pass: bool
    stored: Stored
    pixgate_peak_rss_bytes: int
    elapsed_s: float


@dataclass(frozen=True, slots=True)
class UploadsSkipped:
    skipped: str


def by_phase(rows: Sequence[UploadRow]) -> dict[tuple[str, str], UploadRow]:
    return {(row.phase, row.mode): row for row in rows}


def pixgate_over_pieces(rows: Sequence[UploadRow]) -> dict[str, PixgateOverPieces]:
    rows_by = by_phase(rows)
    ratios = {}
    for phase in dict.fromkeys(row.phase for row in rows):
        pixgate, pieces = rows_by[phase, "pixgate"].summary, rows_by[phase, "pieces"].summary
        ratios[phase] = PixgateOverPieces(
            per_second=ratio(pixgate.per_second, pieces.per_second),
            mean_ms=ratio(pixgate.mean_ms, pieces.mean_ms),
            p50_ms=ratio(pixgate.p50_ms, pieces.p50_ms),
            p95_ms=ratio(pixgate.p95_ms, pieces.p95_ms),
        )
    return ratios
