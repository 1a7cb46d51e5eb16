"""pixgate's quality scale and `q:auto`.

* **One quality scale.** A URL's `q` is mapped to each encoder's own Q so that the same `q`
  gives about the same SSIMULACRA2 in every format (the JPEG scale is the reference:
  `q:80` is JPEG Q80, and the WebP and AVIF Q whose median score on the corpus matches).
* **`q:auto`** encodes at most `max_encodes` times: first at the Q where the median photo
  reaches the target, then secant steps on the measured score, and keeps the lowest Q that
  reached it (else the highest it tried). Scores come from :mod:`proxy.metric` on the
  already-resized image. Every step is a pure function of the pixels, so the same URL and
  original give the same bytes.

No pixels here (planning imports this module): the encoder and the scorer are passed in.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from proxy.options import OutputFormat

MIN_QUALITY = 1
MAX_QUALITY = 100


@dataclass(frozen=True, slots=True)
class AutoQuality:
    """`q:auto`: the lowest quality whose SSIMULACRA2 reaches `target`, in at most
    `max_encodes` encodes."""

    target: float
    max_encodes: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """One encode of the search: encoder Q, bytes and metric score (None if not scored)."""

    quality: int
    data: bytes
    score: float | None


Knots = tuple[tuple[float, float], ...]

# pixgate q -> encoder Q, piecewise linear: at each knot, the encoder Q whose median
# SSIMULACRA2 on the corpus (500 px and 300x300 variants) equals JPEG's at Q = q.
_SCALE: dict[OutputFormat, Knots] = {
    OutputFormat.JPEG: ((1, 1), (100, 100)),
    OutputFormat.WEBP: ((1, 1), (40, 36), (55, 55), (70, 73), (80, 83), (90, 93), (100, 100)),
    OutputFormat.AVIF: ((1, 1), (40, 40), (55, 46), (70, 53), (80, 63), (90, 79), (100, 100)),
}

# Encoder Q -> median score of the corpus (in proxy.metric's units) with pixgate's encoder
# settings: where q:auto starts, and the slope of its first step when it has only one
# point of its own. The ends are extrapolated.
_MEDIAN_SCORE: dict[OutputFormat, Knots] = {
    OutputFormat.JPEG: (
        (1, 4.6), (40, 48.5), (55, 57.0), (70, 67.0), (80, 74.3), (90, 84.0), (100, 94.7),
    ),
    OutputFormat.WEBP: (
        (1, 4.6), (40, 50.5), (55, 57.2), (70, 64.4), (80, 71.6), (90, 82.9), (100, 94.7),
    ),
    OutputFormat.AVIF: (  # at SEARCH_EFFORT
        (1, 4.6), (30, 30.9), (42, 50.4), (55, 67.8), (65, 74.9), (75, 81.5), (100, 94.7),
    ),
}  # fmt: skip

# proxy.metric against the reference implementation on the corpus (400 encodes of the
# 500 px and 300x300 variants, JPEG Q 62-92 and WebP Q 64-95): reference = 0.9552 *
# metric + 4.153, correlation 0.9991, residual 0.34 standard deviation, 2.07 at most.
_METRIC_SLOPE = 0.9552
_METRIC_OFFSET = 4.153

# AVIF searches at this effort and encodes its result once at the configured one: effort 4
# costs 8x effort 2's CPU and scores about 1.6 higher at the same Q (README, Quality).
SEARCH_EFFORT = {OutputFormat.AVIF: 2}

# A result this close above the target (reference units) ends the search: the band is
# -2/+5 and the metric's residual against the reference is 1.0 at most at 500 px (2.07 on
# 300x300), so up to 3.5 above lands within it. Each score avoided saves about as much
# CPU as the render itself.
_CLOSE_ENOUGH = 3.5
# Steps aim this far above the target, so their rounding rarely lands just below it.
_AIM_ABOVE = 0.75
# The first encode aims higher, well inside the accepted band: more photos are settled by
# one score (500 px: 16 of 20 JPEG and 10 of 20 WebP; 12 and 6 when starting at 0.75).
_START_ABOVE = 1.5


def encoder_quality(output_format: OutputFormat, quality: int) -> int:
    """The encoder's Q for pixgate's `quality` (1-100) in `output_format`."""
    knots = _SCALE.get(output_format)
    if knots is None:
        return quality
    return _clamp(round(_interpolate(knots, quality)))


def start_quality(output_format: OutputFormat, target: float) -> int:
    """The encoder Q where the median photo of the corpus scores 1.5 above `target`: more
    photos start inside the accepted band, so one score settles them."""
    knots = _MEDIAN_SCORE[output_format]
    inverse = tuple((score, q) for q, score in knots)
    return _clamp(math.ceil(_interpolate(inverse, _metric_target(target + _START_ABOVE))))


def search(
    encode: Callable[[int], bytes],
    measure: Callable[[bytes], float],
    output_format: OutputFormat,
    auto: AutoQuality,
) -> Attempt:
    """The lowest-Q attempt reaching `auto.target`, else the best one; `encode` runs at
    most `auto.max_encodes` times."""
    target = _metric_target(auto.target)
    aim = target + _AIM_ABOVE / _METRIC_SLOPE
    tried: dict[int, Attempt] = {}
    quality: int | None = start_quality(output_format, auto.target)
    while quality is not None and len(tried) < max(1, auto.max_encodes):
        data = encode(quality)
        if auto.max_encodes <= 1:  # nothing to choose from: no score needed
            return Attempt(quality, data, None)
        tried[quality] = Attempt(quality, data, measure(data))
        quality = _next_quality(tried, target, aim, output_format)
    return _best(tried, target)


def _next_quality(
    tried: dict[int, Attempt], target: float, aim: float, output_format: OutputFormat
) -> int | None:
    """The next Q to try, or None when the search is done."""
    passing = sorted(q for q, a in tried.items() if _score(a) >= target)
    failing = sorted(q for q, a in tried.items() if _score(a) < target)
    high = passing[0] if passing else None
    low = max((q for q in failing if high is None or q < high), default=None)
    if high is not None and _score(tried[high]) - target <= _CLOSE_ENOUGH / _METRIC_SLOPE:
        return None
    if high is not None and low is not None:
        if high - low <= 1:
            return None
        guess = _secant(tried[low], tried[high], aim)
        return min(high - 1, max(low + 1, guess))
    last = tried[high if high is not None else max(failing)]
    neighbours = [a for q, a in tried.items() if q != last.quality]
    slope = _median_slope(output_format, last.quality)
    if neighbours:
        other = min(neighbours, key=lambda a: abs(a.quality - last.quality))
        measured = (_score(last) - _score(other)) / (last.quality - other.quality)
        if measured > 0:
            slope = measured
    guess = math.ceil(last.quality + (aim - _score(last)) / slope)
    guess = min(guess, high - 1) if high is not None else max(guess, last.quality + 1)
    guess = _clamp(guess)
    return None if guess in tried else guess


def _secant(low: Attempt, high: Attempt, aim: float) -> int:
    span = _score(high) - _score(low)
    if span <= 0:
        return (low.quality + high.quality + 1) // 2
    fraction = (aim - _score(low)) / span
    return math.ceil(low.quality + fraction * (high.quality - low.quality))


def _best(tried: dict[int, Attempt], target: float) -> Attempt:
    passing = [a for a in tried.values() if _score(a) >= target]
    if passing:
        return min(passing, key=lambda a: a.quality)
    # None reached it: the highest Q tried (a noisy score must not pick a lower Q for a
    # higher target).
    return max(tried.values(), key=lambda a: a.quality)


def _score(attempt: Attempt) -> float:
    return -math.inf if attempt.score is None else attempt.score


def _median_slope(output_format: OutputFormat, quality: int) -> float:
    knots = _MEDIAN_SCORE[output_format]
    low = _interpolate(knots, max(MIN_QUALITY, quality - 5))
    high = _interpolate(knots, min(MAX_QUALITY, quality + 5))
    return max(0.05, (high - low) / (min(MAX_QUALITY, quality + 5) - max(MIN_QUALITY, quality - 5)))


def _metric_target(target: float) -> float:
    """A reference SSIMULACRA2 score in the units of :mod:`proxy.metric`."""
    return (target - _METRIC_OFFSET) / _METRIC_SLOPE


def _interpolate(knots: Knots, x: float) -> float:
    if x <= knots[0][0]:
        return knots[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return knots[-1][1]


def _clamp(quality: int) -> int:
    return min(MAX_QUALITY, max(MIN_QUALITY, quality))
