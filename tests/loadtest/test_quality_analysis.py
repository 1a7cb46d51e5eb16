"""Figures from samples (loadtest.quality.analysis and the report's split), on made-up
samples whose answers are known."""

from __future__ import annotations

import math

import pytest

from loadtest.quality.analysis import auto_spread, bd_rates, corpus_curve, operating
from loadtest.quality.report import render_markdown, split_by_scale
from loadtest.quality.results import Run, Sample

VARIANTS = (("a.jpg", "fit500"), ("b.png", "cover300"))
QUALITIES = (40, 60, 80, 90)


def curve_samples(system: str, factor: float, cpu_ms: float = 10.0) -> list[Sample]:
    """Score 20*ln(bytes) - 100 at bytes 1000 * 2**i * factor: a known rate curve."""
    samples = []
    for photo, geometry in VARIANTS:
        for index, quality in enumerate(QUALITIES):
            base = 1000 * 2**index
            samples.append(
                Sample(
                    system=system,
                    photo=photo,
                    geometry=geometry,
                    output_format="webp",
                    quality=str(quality),
                    size_bytes=round(base * factor),
                    cpu_ms=cpu_ms,
                    score=20 * math.log(base) - 100,
                )
            )
    return samples


def auto_sample(photo: str, geometry: str, score: float, size: int) -> Sample:
    return Sample("pixgate", photo, geometry, "webp", "auto", size, 25.0, score)


def test_bd_rate_per_variant_and_of_the_corpus_curve() -> None:
    samples = [*curve_samples("pixgate", 0.8), *curve_samples("sharp", 1.0)]
    result = bd_rates(samples, "pixgate", "sharp", "webp")
    assert result.variants == 2
    assert result.skipped == 0
    assert result.mean_per_variant == pytest.approx(-0.2, abs=1e-3)
    assert result.corpus == pytest.approx(-0.2, abs=1e-3)


def test_corpus_curve_sums_bytes_and_averages_scores() -> None:
    points = corpus_curve(curve_samples("sharp", 1.0), "sharp", "webp", {"a.jpg/fit500"})
    assert sorted(p.size_bytes for p in points) == [1000, 2000, 4000, 8000]


def test_operating_point_totals() -> None:
    samples = curve_samples("sharp", 1.0)
    point = operating(samples, "sharp", "webp", "80", {"a.jpg/fit500", "b.png/cover300"})
    assert point is not None
    assert point.total_bytes == 8000
    assert point.renders == 2


def test_auto_spread_counts_the_window_and_compares_bytes_at_the_same_score() -> None:
    target = 20 * math.log(2000) - 100
    samples = [
        *curve_samples("pixgate", 1.0, cpu_ms=10.0),
        *curve_samples("sharp", 1.0),
        auto_sample("a.jpg", "fit500", target + 1.0, 1700),
        auto_sample("b.png", "cover300", target - 3.0, 1500),
    ]
    spread = auto_spread(samples, "webp", target, ["sharp"], fixed_quality=60)
    assert spread is not None
    assert (spread.renders, spread.within) == (2, 1)
    assert spread.min_delta == pytest.approx(-3.0)
    assert spread.best_peer == "sharp"
    # sharp needs 2 x 2000 * exp(-1/20) bytes at the mean score (target - 1).
    assert spread.bytes_ratio == pytest.approx(3200 / (4000 * math.exp(-1 / 20)), rel=1e-3)
    assert spread.cpu_auto_ms / spread.cpu_fixed_ms == pytest.approx(2.5)


def test_report_sets_the_150px_variants_apart() -> None:
    small = [
        Sample("pixgate", "a.jpg", "fit150", "webp", "60", 500, 5.0, 10.0),
        Sample("pixgate", "a.jpg", "fit150", "webp", "80", 800, 5.0, 20.0),
    ]
    run = Run((*curve_samples("pixgate", 1.0), *small), (), {"formats": ["webp"]})
    headline, rest = split_by_scale(run)
    assert {s.geometry for s in headline.samples} == {"fit500", "cover300"}
    assert {s.geometry for s in rest.samples} == {"fit150"}
    assert "## 150 px thumbnails, on their own" in render_markdown(run, [])
