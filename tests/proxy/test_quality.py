"""q:auto: the bounded search over encoder Q, the metric, and their use in render."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import pyvips

from loadtest.harness import imagegen
from loadtest.imageset import photo as photo_like
from proxy import metric, quality
from proxy.options import AUTO_QUALITY, Options, OutputFormat
from proxy.plan import EncoderDefaults, Limits, Plan, plan_transform
from proxy.probe import probe
from proxy.quality import (
    MAX_QUALITY,
    MIN_QUALITY,
    AutoQuality,
    encoder_quality,
    search,
    start_quality,
)
from proxy.render import Rendered, render

LOSSY = (OutputFormat.JPEG, OutputFormat.WEBP, OutputFormat.AVIF)
LIMITS = Limits(max_output_pixels=50_000_000, max_animation_frames=100)


@dataclass
class Spy:
    """An encoder whose 'score' is a known function of Q; counts its calls."""

    curve: Callable[[int], float]
    calls: list[int] = field(default_factory=list)

    def encode(self, quality: int) -> bytes:
        self.calls.append(quality)
        return quality.to_bytes(1, "big")

    def measure(self, data: bytes) -> float:
        return self.curve(data[0])


CURVES: dict[str, Callable[[int], float]] = {
    "linear": lambda q: 0.8 * q + 10,
    "steep": lambda q: 3.0 * q - 120,
    "flat-high": lambda q: 92 + q / 100,
    "unreachable": lambda q: 40 + q / 10,
    "noisy": lambda q: 0.7 * q + 20 + (3 if q % 2 else -3),
    "saturating": lambda q: 100 - 3000 / (q + 20),
}


@pytest.mark.parametrize("output_format", LOSSY, ids=lambda f: f.value)
@pytest.mark.parametrize("curve", CURVES.values(), ids=CURVES.keys())
@pytest.mark.parametrize("max_encodes", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("target", [50.0, 75.0, 90.0])
def test_search_never_encodes_more_than_the_cap(
    output_format: OutputFormat,
    curve: Callable[[int], float],
    max_encodes: int,
    target: float,
) -> None:
    spy = Spy(curve)
    attempt = search(spy.encode, spy.measure, output_format, AutoQuality(target, max_encodes))
    assert 1 <= len(spy.calls) <= max_encodes
    assert len(set(spy.calls)) == len(spy.calls), "no quality is encoded twice"
    assert MIN_QUALITY <= attempt.quality <= MAX_QUALITY
    assert attempt.quality in spy.calls
    assert attempt.data == spy.encode(attempt.quality)


@pytest.mark.parametrize("output_format", LOSSY, ids=lambda f: f.value)
@pytest.mark.parametrize("curve", ["linear", "steep", "saturating"])
def test_search_returns_the_lowest_quality_tried_that_reaches_the_target(
    output_format: OutputFormat, curve: str
) -> None:
    spy = Spy(CURVES[curve])
    attempt = search(spy.encode, spy.measure, output_format, AutoQuality(70.0, 4))
    passing = [q for q in spy.calls if spy.curve(q) >= metric_target(70.0)]
    assert passing, "a reachable target is reached within four encodes"
    assert attempt.quality == min(passing)


def test_search_keeps_the_best_attempt_when_the_target_is_out_of_reach() -> None:
    spy = Spy(CURVES["unreachable"])
    attempt = search(spy.encode, spy.measure, OutputFormat.JPEG, AutoQuality(90.0, 3))
    assert attempt.quality == max(spy.calls)


def test_one_encode_is_the_calibrated_start_and_scores_nothing() -> None:
    def measure(data: bytes) -> float:
        raise AssertionError("nothing to compare with")

    spy = Spy(CURVES["linear"])
    attempt = search(spy.encode, measure, OutputFormat.WEBP, AutoQuality(75.0, 1))
    assert spy.calls == [start_quality(OutputFormat.WEBP, 75.0)] == [attempt.quality]
    assert attempt.score is None


@pytest.mark.parametrize("output_format", LOSSY, ids=lambda f: f.value)
@pytest.mark.parametrize("curve", ["linear", "steep", "saturating", "noisy"])
def test_search_is_monotonic_in_the_target(output_format: OutputFormat, curve: str) -> None:
    chosen = [
        search(
            Spy(CURVES[curve]).encode,
            Spy(CURVES[curve]).measure,
            output_format,
            AutoQuality(target, 4),
        ).quality
        for target in (40.0, 55.0, 65.0, 75.0, 85.0, 92.0)
    ]
    assert chosen == sorted(chosen)


@pytest.mark.parametrize("output_format", LOSSY, ids=lambda f: f.value)
def test_scales_are_monotonic_and_bounded(output_format: OutputFormat) -> None:
    qualities = [encoder_quality(output_format, q) for q in range(1, 101)]
    assert qualities == sorted(qualities)
    assert all(MIN_QUALITY <= q <= MAX_QUALITY for q in qualities)
    starts = [start_quality(output_format, t) for t in range(30, 96)]
    assert starts == sorted(starts)


def metric_target(target: float) -> float:
    return quality._metric_target(target)


# --- in render ---------------------------------------------------------------------------


def plan_of(data: bytes, options: Options, fmt: OutputFormat, target: float = 75.0) -> Plan:
    info = probe(data, max_pixels=100_000_000)
    encoder = EncoderDefaults(quality_target=target, auto_max_encodes=3)
    return plan_transform(options, info, fmt, LIMITS, encoder)


def rendered(data: bytes, options: Options, fmt: OutputFormat, target: float = 75.0) -> Rendered:
    return render(data, plan_of(data, options, fmt, target))


SOURCE = imagegen.jpeg(photo_like(640, 480), quality=95)


@pytest.mark.parametrize("output_format", LOSSY, ids=lambda f: f.value)
def test_auto_is_deterministic(output_format: OutputFormat) -> None:
    options = Options(width=200, quality=AUTO_QUALITY)
    first = rendered(SOURCE, options, output_format)
    second = rendered(SOURCE, options, output_format)
    assert first.data == second.data
    assert first.quality == second.quality


@pytest.mark.parametrize("output_format", [OutputFormat.JPEG, OutputFormat.WEBP])
def test_auto_is_monotonic_in_the_target(output_format: OutputFormat) -> None:
    results = [
        rendered(SOURCE, Options(width=240), output_format, target)
        for target in (50.0, 65.0, 80.0, 90.0)
    ]
    qualities = [r.quality for r in results]
    sizes = [len(r.data) for r in results]
    assert qualities == sorted(qualities)
    assert sizes == sorted(sizes)
    assert qualities[0] < qualities[-1]


@pytest.mark.parametrize("output_format", LOSSY, ids=lambda f: f.value)
@pytest.mark.parametrize("quality", [30, 90])
def test_an_explicit_quality_wins_over_auto(output_format: OutputFormat, quality: int) -> None:
    result = rendered(SOURCE, Options(width=200, quality=quality), output_format, 75.0)
    assert result.quality == encoder_quality(output_format, quality)


def test_auto_reaches_the_target_on_a_photo_like_image() -> None:
    result = rendered(SOURCE, Options(width=320), OutputFormat.JPEG, 80.0)
    image = pyvips.Image.new_from_buffer(SOURCE, "").thumbnail_image(320)
    decoded = pyvips.Image.new_from_buffer(result.data, "")
    assert metric.score(metric.prepare(image), decoded) >= metric_target(80.0)


def test_max_bytes_still_applies_after_auto() -> None:
    unbounded = rendered(SOURCE, Options(width=320), OutputFormat.JPEG)
    bounded = rendered(
        SOURCE, Options(width=320, max_bytes=len(unbounded.data) // 2), OutputFormat.JPEG
    )
    assert len(bounded.data) <= len(unbounded.data) // 2
    assert bounded.quality < unbounded.quality


@pytest.mark.parametrize("output_format", LOSSY, ids=lambda f: f.value)
@pytest.mark.parametrize("max_encodes", [1, 2, 3, 4])
@pytest.mark.parametrize("target", [60.0, 95.0])
def test_render_never_encodes_more_than_the_cap(
    output_format: OutputFormat, max_encodes: int, target: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxy import render as render_module

    calls: list[int] = []
    real_save = render_module._save

    def counted(image: object, plan: Plan, quality: int, settings: dict[str, object]) -> bytes:
        calls.append(quality)
        return real_save(image, plan, quality, settings)

    monkeypatch.setattr(render_module, "_save", counted)
    info = probe(SOURCE, max_pixels=100_000_000)
    encoder = EncoderDefaults(quality_target=target, auto_max_encodes=max_encodes)
    plan = plan_transform(Options(width=160), info, output_format, LIMITS, encoder)
    result = render(SOURCE, plan)
    assert 1 <= len(calls) <= max_encodes
    assert result.quality == calls[-1] or result.quality in calls


@pytest.mark.parametrize("output_format", LOSSY, ids=lambda f: f.value)
def test_a_variant_too_small_to_score_gets_one_encode_at_the_start(
    output_format: OutputFormat, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxy import render as render_module

    def no_scorer(image: object) -> None:
        raise AssertionError("nothing is scored below the smallest scored side")

    monkeypatch.setattr(metric, "Scorer", no_scorer)
    width = metric.SMALLEST_SCORED_SIDE - 8
    result = rendered(SOURCE, Options(width=width), output_format)
    assert result.quality == start_quality(output_format, 75.0)
    assert render_module.metric is metric
