"""The SSIMULACRA2 port (loadtest.quality.ssimulacra2) against the PyPI reference on real
photos and real encoder outputs, and the score cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips

from loadtest.quality import ssimulacra2
from loadtest.quality.corpus import PHOTOS_DIR
from loadtest.quality.scoring import (
    Job,
    ScoreCache,
    decode_rgb,
    digest,
    reference_score,
    score_against,
    score_all,
)


def resized(name: str, width: int) -> pyvips.Image:
    return pyvips.Image.thumbnail(str(PHOTOS_DIR / name), width).copy_memory()


@pytest.mark.parametrize(
    ("name", "width", "suffix", "quality"),
    [
        pytest.param("kodim23.png", 300, ".jpg", 40, id="jpeg-q40-saturated"),
        pytest.param("kodim08.png", 256, ".webp", 60, id="webp-q60-detail"),
        pytest.param("kodim04.png", 150, ".jpg", 20, id="jpeg-q20-small-portrait"),
        pytest.param("jellyfish_blue.jpg", 240, ".avif", 50, id="avif-q50-gradients"),
        pytest.param("colorado_sign.jpg", 200, ".jpg", 90, id="jpeg-q90-sky"),
    ],
)
def test_port_matches_the_reference_package(
    name: str, width: int, suffix: str, quality: int
) -> None:
    image = resized(name, width)
    reference = bytes(image.pngsave_buffer())
    distorted = bytes(image.write_to_buffer(suffix, Q=quality))
    (port,) = score_against(reference, [distorted])
    assert port is not None
    assert port == pytest.approx(reference_score(reference, distorted), abs=0.5)


def test_identical_images_score_100_and_sizes_must_match() -> None:
    image = resized("kodim16.png", 120)
    png = bytes(image.pngsave_buffer())
    assert ssimulacra2.score(ssimulacra2.reference(decode_rgb(png)), decode_rgb(png)) == 100.0
    other = bytes(image.crop(0, 0, 100, 60).pngsave_buffer())
    assert score_against(png, [other]) == [None]


def test_scores_are_cached_by_the_bytes_hashes(tmp_path: Path) -> None:
    image = resized("kodim03.png", 128)
    reference = bytes(image.pngsave_buffer())
    distorted = bytes(image.jpegsave_buffer(Q=50))
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    for data in (reference, distorted):
        (blobs / digest(data)).write_bytes(data)
    job = Job(digest(reference), (digest(distorted),))
    cache = ScoreCache(tmp_path / "scores.sqlite")
    try:
        first = score_all([job], blobs, cache, workers=1)
        (blobs / digest(distorted)).unlink()  # a second call must not need the image
        second = score_all([job], blobs, cache, workers=1)
    finally:
        cache.close()
    key = (digest(reference), digest(distorted))
    assert first[key] is not None
    assert second[key] == pytest.approx(first[key])
