"""Bjøntegaard delta rate: how many more bytes one encoder needs for the same quality.

For each system, log(bytes) is a monotone (PCHIP) function of the quality score over its
sweep. BD-rate of `test` against `anchor` is exp(mean difference of those functions over
the score range both cover) - 1: -10% means `test` needs 10% fewer bytes at equal score,
averaged over that range. It is computed per variant (one photo at one geometry) and then
averaged over the variants, as codec comparisons average per-sequence BD-rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.interpolate import PchipInterpolator


@dataclass(frozen=True, slots=True)
class RatePoint:
    size_bytes: int
    score: float


class DisjointRanges(ValueError):
    """The two curves share no score range (or not enough of one) to compare."""


def monotone_curve(points: Sequence[RatePoint]) -> list[RatePoint]:
    """Points sorted by bytes, keeping only those that raise the score: more bytes for a
    lower score is a point no one would choose, and PCHIP needs strictly rising scores."""
    curve: list[RatePoint] = []
    for point in sorted(points, key=lambda p: (p.size_bytes, -p.score)):
        if point.size_bytes <= 0:
            raise ValueError(f"a size of {point.size_bytes} bytes cannot be on a rate curve")
        if not curve or point.score > curve[-1].score:
            curve.append(point)
    return curve


def _interpolant(curve: Sequence[RatePoint]) -> PchipInterpolator:
    return PchipInterpolator(
        [p.score for p in curve], [math.log(p.size_bytes) for p in curve], extrapolate=False
    )


def overlap(anchor: Sequence[RatePoint], test: Sequence[RatePoint]) -> tuple[float, float]:
    """The score range both monotone curves cover."""
    a, t = monotone_curve(anchor), monotone_curve(test)
    if len(a) < 2 or len(t) < 2:
        raise DisjointRanges("each curve needs at least two points of rising score")
    low = max(a[0].score, t[0].score)
    high = min(a[-1].score, t[-1].score)
    if high <= low:
        raise DisjointRanges(
            f"score ranges [{a[0].score:.2f}, {a[-1].score:.2f}] and "
            f"[{t[0].score:.2f}, {t[-1].score:.2f}] do not overlap"
        )
    return low, high


def bd_rate(anchor: Sequence[RatePoint], test: Sequence[RatePoint]) -> float:
    """BD-rate of `test` against `anchor`, as a fraction (-0.1: 10% fewer bytes)."""
    low, high = overlap(anchor, test)
    a = _interpolant(monotone_curve(anchor))
    t = _interpolant(monotone_curve(test))
    mean_difference = (float(t.integrate(low, high)) - float(a.integrate(low, high))) / (high - low)
    return math.exp(mean_difference) - 1.0


def bytes_at(points: Sequence[RatePoint], score: float) -> float:
    """Bytes the curve needs for `score` (PCHIP in log bytes); DisjointRanges outside it."""
    curve = monotone_curve(points)
    if len(curve) < 2 or not curve[0].score <= score <= curve[-1].score:
        raise DisjointRanges(f"score {score:.2f} is outside the curve's range")
    return math.exp(float(_interpolant(curve)(score)))


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of nothing")
    return sum(values) / len(values)
