"""Figures from a run's samples: BD-rates, operating points, CPU, the q:auto spread.

Only variants every compared system rendered are compared. A system's rate curve for a
variant is its explicit-quality renders (the sweep). The corpus curve of a system is, at
each sweep quality, the total bytes over the variants against their mean score.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from loadtest.quality.bdrate import DisjointRanges, RatePoint, bd_rate, bytes_at, mean
from loadtest.quality.results import Sample


@dataclass(frozen=True, slots=True)
class BdRate:
    output_format: str
    test: str
    anchor: str
    mean_per_variant: float | None  # fraction; None when no variant overlapped
    variants: int  # variants with an overlapping score range
    skipped: int  # variants without one
    corpus: float | None  # BD-rate of the corpus curves
    worst: float | None  # the largest per-variant BD-rate
    worst_variant: str


@dataclass(frozen=True, slots=True)
class Operating:
    """A system at one quality setting over the compared variants."""

    system: str
    output_format: str
    quality: str
    renders: int
    total_bytes: int
    mean_score: float
    min_score: float
    mean_cpu_ms: float


@dataclass(frozen=True, slots=True)
class AutoSpread:
    output_format: str
    target: float
    renders: int
    min_delta: float
    max_delta: float
    within: int  # renders within -2/+5 of the target
    total_bytes: int
    mean_score: float
    peer_bytes: dict[str, float]  # each peer's corpus curve at the same mean score
    best_peer: str | None
    bytes_ratio: float | None  # total bytes over the best peer's
    cpu_auto_ms: float
    cpu_fixed_ms: float
    fixed_quality: str


def _scored(samples: Sequence[Sample]) -> list[Sample]:
    return [s for s in samples if s.score is not None]


def common_variants(samples: Sequence[Sample], systems: Sequence[str], fmt: str) -> set[str]:
    sets = [
        {s.variant for s in samples if s.system == system and s.output_format == fmt}
        for system in systems
    ]
    return set.intersection(*sets) if sets else set()


def curve(samples: Sequence[Sample], system: str, fmt: str, variant: str) -> list[RatePoint]:
    return [
        RatePoint(s.size_bytes, s.score)
        for s in samples
        if s.system == system
        and s.output_format == fmt
        and s.variant == variant
        and s.explicit_quality is not None
        and s.score is not None
    ]


def corpus_curve(
    samples: Sequence[Sample], system: str, fmt: str, variants: set[str]
) -> list[RatePoint]:
    by_quality: dict[str, list[Sample]] = defaultdict(list)
    for s in _scored(samples):
        if (
            s.system == system
            and s.output_format == fmt
            and s.variant in variants
            and s.explicit_quality is not None
        ):
            by_quality[s.quality].append(s)
    points = []
    for group in by_quality.values():
        if len({s.variant for s in group}) == len(variants):
            points.append(
                RatePoint(sum(s.size_bytes for s in group), mean([s.score or 0.0 for s in group]))
            )
    return points


def bd_rates(samples: Sequence[Sample], test: str, anchor: str, fmt: str) -> BdRate:
    variants = common_variants(samples, (test, anchor), fmt)
    values: dict[str, float] = {}
    for variant in sorted(variants):
        try:
            values[variant] = bd_rate(
                curve(samples, anchor, fmt, variant), curve(samples, test, fmt, variant)
            )
        except DisjointRanges:
            continue
    try:
        corpus: float | None = bd_rate(
            corpus_curve(samples, anchor, fmt, variants), corpus_curve(samples, test, fmt, variants)
        )
    except DisjointRanges:
        corpus = None
    worst_variant = max(values, key=lambda v: values[v]) if values else ""
    return BdRate(
        output_format=fmt,
        test=test,
        anchor=anchor,
        mean_per_variant=mean(list(values.values())) if values else None,
        variants=len(values),
        skipped=len(variants) - len(values),
        corpus=corpus,
        worst=values[worst_variant] if values else None,
        worst_variant=worst_variant,
    )


def operating(
    samples: Sequence[Sample], system: str, fmt: str, quality: str, variants: set[str]
) -> Operating | None:
    group = [
        s
        for s in _scored(samples)
        if s.system == system
        and s.output_format == fmt
        and s.quality == quality
        and s.variant in variants
    ]
    if not group:
        return None
    return Operating(
        system=system,
        output_format=fmt,
        quality=quality,
        renders=len(group),
        total_bytes=sum(s.size_bytes for s in group),
        mean_score=mean([s.score or 0.0 for s in group]),
        min_score=min(s.score or 0.0 for s in group),
        mean_cpu_ms=mean([s.cpu_ms for s in group]),
    )


def sweep_cpu_ms(samples: Sequence[Sample], system: str, fmt: str, variants: set[str]) -> float:
    """Mean CPU per render over the sweep (the explicit qualities)."""
    values = [
        s.cpu_ms
        for s in samples
        if s.system == system
        and s.output_format == fmt
        and s.variant in variants
        and s.explicit_quality is not None
    ]
    return mean(values) if values else float("nan")


def auto_spread(
    samples: Sequence[Sample],
    fmt: str,
    target: float,
    peers: Sequence[str],
    fixed_quality: int,
) -> AutoSpread | None:
    variants = common_variants(samples, ("pixgate", *peers), fmt)
    auto = [
        s
        for s in _scored(samples)
        if s.system == "pixgate" and s.output_format == fmt and s.quality == "auto"
    ]
    auto = [s for s in auto if s.variant in variants]
    if not auto:
        return None
    deltas = [(s.score or 0.0) - target for s in auto]
    mean_score = mean([s.score or 0.0 for s in auto])
    total = sum(s.size_bytes for s in auto)
    peer_bytes: dict[str, float] = {}
    for peer in peers:
        try:
            peer_bytes[peer] = bytes_at(corpus_curve(samples, peer, fmt, variants), mean_score)
        except DisjointRanges:
            continue
    best = min(peer_bytes, key=lambda p: peer_bytes[p]) if peer_bytes else None
    fixed = [
        s
        for s in samples
        if s.system == "pixgate"
        and s.output_format == fmt
        and s.quality == str(fixed_quality)
        and s.variant in variants
    ]
    return AutoSpread(
        output_format=fmt,
        target=target,
        renders=len(auto),
        min_delta=min(deltas),
        max_delta=max(deltas),
        within=sum(1 for d in deltas if -2.0 <= d <= 5.0),
        total_bytes=total,
        mean_score=mean_score,
        peer_bytes=peer_bytes,
        best_peer=best,
        bytes_ratio=total / peer_bytes[best] if best is not None else None,
        cpu_auto_ms=mean([s.cpu_ms for s in auto]),
        cpu_fixed_ms=mean([s.cpu_ms for s in fixed]) if fixed else float("nan"),
        fixed_quality=str(fixed_quality),
    )
