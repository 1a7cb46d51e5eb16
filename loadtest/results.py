"""What the benchmarks measured, as frozen values: one system under one load
(`Measurement`) and a target with its figures and verdict (`Target`). The runs produce
them; `loadtest.report` prints them and writes them as JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from loadtest.stats import Summary, WindowTally

Verdict = Literal["MET", "MISSED", "n/a"]
# Field metadata: the nested dataclass's fields stand in its parent's JSON object.
FLAT: Mapping[str, bool] = {"flat": True}


@dataclass(frozen=True, slots=True)
class Machine:
    """What a benchmark ran on (`loadtest.machine.describe`)."""

    cores: int  # the ones this process may run on
    cpu_count: int | None
    cpu_model: str
    memory_gib: float
    platform: str
    python: str
    libvips: str
    git: str  # the commit, and whether tracked files differed from it


@dataclass(frozen=True, slots=True)
class Measurement:
    """One system under one load: its measured windows added together (`WindowTally`),
    with the figures derived from them."""

    summary: Summary = field(metadata=FLAT)
    cpu_ms_per_request: float
    client_cpu_ms_per_request: float
    main_thread_cpu_ms_per_request: float  # a server's event loop
    cpu_cores: float
    client_cpu_cores: float
    other_cpu_cores: float  # the rest of the machine meanwhile
    output_bytes: float
    peak_rss_bytes: int
    segment_per_second: tuple[float, ...]
    statuses: Mapping[str, int]
    error_samples: tuple[str, ...]

    @classmethod
    def of(cls, tally: WindowTally) -> Measurement:
        measured_s = tally.measured_s or float("nan")
        return cls(
            summary=tally.summary(),
            cpu_ms_per_request=tally.cpu_ms_per_request,
            client_cpu_ms_per_request=tally.per_request_ms(tally.client_cpu_s),
            main_thread_cpu_ms_per_request=tally.per_request_ms(tally.loop_cpu_s),
            cpu_cores=tally.cpu_s / measured_s,
            client_cpu_cores=tally.client_cpu_s / measured_s,
            other_cpu_cores=tally.other_cores,
            output_bytes=tally.output_bytes,
            peak_rss_bytes=tally.peak_rss_bytes,
            segment_per_second=tuple(tally.segment_rates),
            statuses=dict(tally.statuses),
            error_samples=tuple(tally.error_samples[:5]),
        )

    @property
    def per_second(self) -> float:
        return self.summary.per_second


@dataclass(frozen=True, slots=True)
class Target:
    """A ratio pixgate must reach at every concurrency, by req/s and by CPU per request."""

    transform: str
    peer: str
    threshold: float
    strictly: bool  # above the threshold, not merely at it
    ratios: Mapping[int, float]  # by req/s, per concurrency
    status: Verdict
    cpu_ratios: Mapping[int, float]  # the peer's CPU per request over pixgate's
    cpu_status: Verdict

    @property
    def target(self) -> str:
        return f"{'>' if self.strictly else '>='} {self.threshold:g}x"
