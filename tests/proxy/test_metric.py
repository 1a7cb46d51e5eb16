"""proxy.metric: SSIMULACRA2 in libvips operations, checked on generated pixels."""

from __future__ import annotations

import pytest
import pyvips

from loadtest.imageset import photo as photo_like
from proxy import metric


def photo(width: int = 160, height: int = 120) -> pyvips.Image:
    return photo_like(width, height).copy_memory()


def test_metric_scores_an_identical_image_100_and_blur_lower_the_more_it_blurs() -> None:
    image = photo()
    reference = metric.prepare(image)
    assert metric.score(reference, image) == pytest.approx(100.0)
    scores = [
        metric.score(reference, image.gaussblur(sigma).cast("uchar")) for sigma in (0.6, 1.2, 2.4)
    ]
    assert 100.0 > scores[0] > scores[1] > scores[2]


def test_metric_does_not_depend_on_the_libvips_thread_count() -> None:
    image = photo(400, 300)
    distorted = pyvips.Image.new_from_buffer(image.jpegsave_buffer(Q=30), "")
    before = pyvips.concurrency_get()
    try:
        scores = set()
        for threads in (1, 2, 4):
            pyvips.concurrency_set(threads)
            scores.add(metric.score(metric.prepare(image), distorted))
    finally:
        pyvips.concurrency_set(before)
    assert len(scores) == 1


def test_metric_refuses_images_of_different_sizes() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        metric.score(metric.prepare(photo(64, 48)), photo(48, 64))


def test_alpha_errors_count() -> None:
    image = photo_like(96, 64).bandjoin(255).copy(interpretation="srgb")
    holed = image.draw_rect([0, 0, 0, 0], 10, 10, 40, 30, fill=True)
    scorer = metric.Scorer(image)
    same = scorer(bytes(image.pngsave_buffer()))
    assert same == pytest.approx(100.0)
    assert scorer(bytes(holed.pngsave_buffer())) < 60
