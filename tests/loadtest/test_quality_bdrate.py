"""BD-rate (loadtest.quality.bdrate): a pure function over rate points, checked on curves
whose answer is known."""

from __future__ import annotations

import math

import pytest

from loadtest.quality.bdrate import (
    DisjointRanges,
    RatePoint,
    bd_rate,
    bytes_at,
    monotone_curve,
    overlap,
)

# A realistic curve: score rising with the log of the bytes.
ANCHOR = [RatePoint(size, 20 * math.log(size) - 120) for size in (4000, 8000, 16000, 32000, 64000)]


def scaled(points: list[RatePoint], factor: float) -> list[RatePoint]:
    return [RatePoint(round(p.size_bytes * factor), p.score) for p in points]


def shifted(points: list[RatePoint], delta: float) -> list[RatePoint]:
    return [RatePoint(p.size_bytes, p.score + delta) for p in points]


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        pytest.param(ANCHOR, 0.0, id="identical-curves-0%"),
        pytest.param(scaled(ANCHOR, 0.5), -0.5, id="half-the-bytes--50%"),
        pytest.param(scaled(ANCHOR, 2.0), 1.0, id="twice-the-bytes-+100%"),
        pytest.param(scaled(ANCHOR, 0.9), -0.1, id="ten-percent-fewer--10%"),
        pytest.param(list(reversed(ANCHOR)), 0.0, id="order-of-points-does-not-matter"),
    ],
)
def test_bd_rate_of_known_curves(test: list[RatePoint], expected: float) -> None:
    assert bd_rate(ANCHOR, test) == pytest.approx(expected, abs=2e-4)


def test_a_better_score_at_the_same_bytes_is_a_saving() -> None:
    # 5 points more for the same bytes: on this curve (20 points per e-fold) that is the
    # anchor's bytes times exp(-5/20).
    assert bd_rate(ANCHOR, shifted(ANCHOR, 5.0)) == pytest.approx(math.exp(-0.25) - 1, abs=1e-3)


def test_bd_rate_is_antisymmetric_in_log_space() -> None:
    test = scaled(ANCHOR, 0.7)
    forward, backward = bd_rate(ANCHOR, test), bd_rate(test, ANCHOR)
    assert math.log1p(forward) == pytest.approx(-math.log1p(backward), abs=1e-9)


@pytest.mark.parametrize(
    ("anchor", "test"),
    [
        pytest.param(ANCHOR, shifted(ANCHOR, 200.0), id="disjoint-score-ranges"),
        pytest.param(ANCHOR, ANCHOR[:1], id="one-point"),
        pytest.param([], ANCHOR, id="empty"),
        pytest.param(ANCHOR, [RatePoint(1000, 50.0), RatePoint(2000, 40.0)], id="no-rising-pair"),
    ],
)
def test_curves_without_a_shared_range_raise(
    anchor: list[RatePoint], test: list[RatePoint]
) -> None:
    with pytest.raises(DisjointRanges):
        bd_rate(anchor, test)


def test_partial_overlap_compares_only_the_shared_range() -> None:
    low, high = overlap(ANCHOR, shifted(ANCHOR, 10.0))
    assert (low, high) == pytest.approx((ANCHOR[0].score + 10.0, ANCHOR[-1].score))


def test_monotone_curve_drops_points_that_cost_more_for_less() -> None:
    points = [RatePoint(1000, 50.0), RatePoint(3000, 60.0), RatePoint(2000, 65.0)]
    assert monotone_curve(points) == [RatePoint(1000, 50.0), RatePoint(2000, 65.0)]


def test_monotone_curve_refuses_empty_outputs() -> None:
    with pytest.raises(ValueError, match="0 bytes"):
        monotone_curve([RatePoint(0, 50.0), RatePoint(10, 60.0)])


def test_bytes_at_interpolates_inside_and_refuses_outside() -> None:
    assert bytes_at(ANCHOR, ANCHOR[2].score) == pytest.approx(16000, rel=1e-9)
    assert 8000 < bytes_at(ANCHOR, (ANCHOR[1].score + ANCHOR[2].score) / 2) < 16000
    with pytest.raises(DisjointRanges):
        bytes_at(ANCHOR, ANCHOR[-1].score + 1)
