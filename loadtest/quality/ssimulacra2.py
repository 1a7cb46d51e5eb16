"""SSIMULACRA2, vectorised: the PyPI `ssimulacra2` package's computation, about 4x faster.

The PyPI package (0.3.0) is the reference. This port does the same arithmetic in float32
with float64 sums, runs each blur as two 1-D passes, and computes the reference image's
pyramid once for every distorted image scored against it. It keeps the reference's
particular choices so the scores agree (tests/loadtest/test_quality_scoring.py checks
them within 0.5; measured differences are below 0.01):

* the XYB planes are laid out transposed (the reference takes `linear.T`), so the blur
  pads with zeros across the image's width and reflects along its height;
* scales stop when a side falls under 8 pixels, and the weights are then read
  consecutively over the scales computed (as the reference's loop does).

Inputs are 8-bit sRGB arrays of shape (height, width, 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from proxy.metric import WEIGHTS

Array = npt.NDArray[np.float32]

NUM_SCALES = 6
_C2 = 0.0009
_SIGMA = 1.5
_TRUNCATE = 3.33
_OPSIN = np.array(
    [
        [0.30, 1.0 - 0.078 - 0.30, 0.078],
        [0.23, 1.0 - 0.078 - 0.23, 0.078],
        [0.24342268924547819, 0.20476744424496821, 1.0 - 0.24342268924547819 - 0.20476744424496821],
    ],
    dtype=np.float64,
)
_BIAS = 0.0037930732552754493
_CBRT_BIAS = float(np.cbrt(_BIAS))


@dataclass(frozen=True, slots=True)
class _Scale:
    xyb: Array
    mu: Array
    sigma_sq: Array


@dataclass(frozen=True, slots=True)
class Reference:
    """A reference image's pyramid, computed once for every image scored against it."""

    shape: tuple[int, int]
    scales: tuple[_Scale, ...]


def _linear(rgb8: npt.NDArray[np.uint8]) -> Array:
    rgb = rgb8.astype(np.float32) / np.float32(255.0)
    return np.where(
        rgb <= 0.04045, rgb / np.float32(12.92), ((rgb + 0.055) / np.float32(1.055)) ** 2.4
    ).astype(np.float32)


def _xyb(linear: Array) -> Array:
    """Positive XYB, transposed to (width, height, 3) as the reference lays it out."""
    mixed = linear.transpose(1, 0, 2) @ _OPSIN.T.astype(np.float32) + np.float32(_BIAS)
    mixed = np.cbrt(np.maximum(mixed, 0.0)) - np.float32(_CBRT_BIAS)
    out = np.empty_like(mixed)
    out[..., 0] = 0.5 * (mixed[..., 0] - mixed[..., 1]) * 14.0 + 0.42
    y = 0.5 * (mixed[..., 0] + mixed[..., 1])
    out[..., 1] = y + 0.01
    out[..., 2] = (mixed[..., 2] - y) + 0.55
    return np.asarray(out, dtype=np.float32)


def _blur(image: Array) -> Array:
    # The reference pads the first axis with zeros as wide as the kernel, so its reflection
    # never applies there: zeros along axis 0, reflection along axis 1.
    out = ndimage.gaussian_filter1d(
        image, _SIGMA, axis=0, mode="constant", cval=0.0, truncate=_TRUNCATE
    )
    out = ndimage.gaussian_filter1d(out, _SIGMA, axis=1, mode="reflect", truncate=_TRUNCATE)
    return np.asarray(out, dtype=np.float32)


def _downsample(linear: Array) -> Array:
    """2x2 box average; edge blocks average the pixels they have."""
    height, width, channels = linear.shape
    out_h, out_w = (height + 1) // 2, (width + 1) // 2
    padded = np.zeros((out_h * 2, out_w * 2, channels), dtype=np.float32)
    padded[:height, :width] = linear
    counts = np.zeros((out_h * 2, out_w * 2, 1), dtype=np.float32)
    counts[:height, :width] = 1.0
    sums = padded.reshape(out_h, 2, out_w, 2, channels).sum(axis=(1, 3))
    n = counts.reshape(out_h, 2, out_w, 2, 1).sum(axis=(1, 3))
    return np.asarray(sums / n, dtype=np.float32)


def _pyramid(rgb8: npt.NDArray[np.uint8]) -> list[Array]:
    levels = []
    linear = _linear(rgb8)
    for scale in range(NUM_SCALES):
        if linear.shape[0] < 8 or linear.shape[1] < 8:
            break
        levels.append(_xyb(linear))
        if scale < NUM_SCALES - 1:
            linear = _downsample(linear)
    return levels


def reference(rgb8: npt.NDArray[np.uint8]) -> Reference:
    """Precompute what every score against this reference image needs."""
    scales = tuple(
        _Scale(xyb=xyb, mu=_blur(xyb), sigma_sq=_blur(xyb * xyb)) for xyb in _pyramid(rgb8)
    )
    return Reference(shape=(int(rgb8.shape[0]), int(rgb8.shape[1])), scales=scales)


def _mean(values: Array) -> npt.NDArray[np.float64]:
    return np.asarray(values.mean(axis=(0, 1), dtype=np.float64), dtype=np.float64)


def _norms(values: Array) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per channel: the 1-norm and the 4-norm means of a non-negative map."""
    squared = values * values
    return _mean(values), _mean(squared * squared) ** 0.25


def score(ref: Reference, distorted8: npt.NDArray[np.uint8]) -> float:
    """SSIMULACRA2 of a distorted image against a precomputed reference (100: identical)."""
    if (int(distorted8.shape[0]), int(distorted8.shape[1])) != ref.shape:
        raise ValueError(f"size {distorted8.shape[:2]} differs from the reference's {ref.shape}")
    # Per scale: ssim (1-norm, 4-norm), ringing (1, 4), blurring (1, 4); each per channel.
    terms: list[tuple[npt.NDArray[np.float64], ...]] = []
    for level, xyb in zip(ref.scales, _pyramid(distorted8), strict=False):
        mu2 = _blur(xyb)
        sigma2_sq = _blur(xyb * xyb)
        sigma12 = _blur(level.xyb * xyb)
        mu1 = level.mu
        diff = mu1 - mu2
        num_m = 1.0 - diff * diff
        num_s = 2.0 * (sigma12 - mu1 * mu2) + _C2
        denom_s = (level.sigma_sq - mu1 * mu1) + (sigma2_sq - mu2 * mu2) + _C2
        ssim = np.maximum(1.0 - num_m * num_s / denom_s, 0.0).astype(np.float32)
        edge = (1.0 + np.abs(xyb - mu2)) / (1.0 + np.abs(level.xyb - mu1)) - 1.0
        ringing = np.maximum(edge, 0.0).astype(np.float32)
        blurring = np.maximum(-edge, 0.0).astype(np.float32)
        terms.append((*_norms(ssim), *_norms(ringing), *_norms(blurring)))
    total = 0.0
    index = 0
    for channel in range(3):
        for ssim1, ssim4, ring1, ring4, blur1, blur4 in terms:
            for ssim_n, ring_n, blur_n in ((ssim1, ring1, blur1), (ssim4, ring4, blur4)):
                total += WEIGHTS[index] * abs(float(ssim_n[channel]))
                total += WEIGHTS[index + 1] * abs(float(ring_n[channel]))
                total += WEIGHTS[index + 2] * abs(float(blur_n[channel]))
                index += 3
    total *= 0.9562382616834844
    total = (
        2.326765642916932 * total
        - 0.020884521182843837 * total * total
        + 6.248496625763138e-05 * total * total * total
    )
    if total <= 0:
        return 100.0
    return float(100.0 - 10.0 * total**0.6276336467831387)
