"""SSIMULACRA2 computed with libvips operations, for `q:auto` on the request path.

A port of the published metric (SSIMULACRA2 as in libjxl: XYB colour, six scales, SSIM
and edge-difference maps with 1- and 4-norms, the same 108 weights and the same final
polynomial). It needs no new dependency and runs in libvips, which releases the GIL.
Blur borders and odd sizes are handled a little differently from the reference, so the
scores were checked against PyPI `ssimulacra2` on the real photos (README, Quality).

Deterministic whatever the number of libvips threads: every map is rounded to fixed point
before it is summed, so the sums are exact integers, independent of the order in which
threads add up their tiles.

The reference side is prepared once (:class:`Reference`) and reused for every candidate
encoding of the same image.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import pyvips

_SCALES = 6
_C2 = 0.0009
_SIGMA = 1.5
# The reference truncates its Gaussian at 3.33 sigma: the kernel's amplitude there.
_MIN_AMPLITUDE = math.exp(-(3.33**2) / 2)
# Maps are summed as integers in units of 2**-24: exact, so thread order cannot matter.
_FIXED = float(1 << 24)

# Opsin absorbance (libjxl opsin_params.h), then XYB made positive as SSIMULACRA2 does.
_OPSIN = [
    [0.30, 0.622, 0.078],
    [0.23, 0.692, 0.078],
    [0.24342268924547819, 0.20476744424496821, 0.5518098665095537],
]
_BIAS = 0.0037930732552754493
_CBRT_BIAS = _BIAS ** (1 / 3)
# From the cube-rooted mix (m0, m1, m2): X = 14 * (m0 - m1) / 2 + 0.42,
# Y = (m0 + m1) / 2 - cbrt(bias) + 0.01, B = m2 - (m0 + m1) / 2 + 0.55.
_POSITIVE_XYB = [[7.0, -7.0, 0.0], [0.5, 0.5, 0.0], [-0.5, -0.5, 1.0]]
_POSITIVE_OFFSET = [0.42, 0.01 - _CBRT_BIAS, 0.55]

# Weights of |average| per channel, scale, norm and map (ssim, artefact, detail lost).
_WEIGHTS = (
    0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0, 0.0,
    0.0004371155730107379, 0.0, 1.1041726426657346, 0.00066284834129271,
    0.00015231632783718752, 0.0, 0.0016406437456599754, 0.0, 1.8422455520539298,
    11.441172603757666, 0.0, 0.0007989109436015163, 0.000176816438078653, 0.0,
    1.8787594979546387, 10.94906990605142, 0.0, 0.0007289346991508072, 0.9677937080626833,
    0.0, 0.00014003424285435884, 0.9981766977854967, 0.00031949755934435053,
    0.0004550992113792063, 0.0, 0.0, 0.0013648766163243398, 0.0, 0.0, 0.0, 0.0, 0.0,
    7.466890328078848, 0.0, 17.445833984131262, 0.0006235601634041466, 0.0, 0.0,
    6.683678146179332, 0.00037724407979611296, 1.027889937768264, 225.20515300849274, 0.0,
    0.0, 19.213238186143016, 0.0011401524586618361, 0.001237755635509985,
    176.39317598450694, 0.0, 0.0, 24.43300999870476, 0.28520802612117757,
    0.0004485436923833408, 0.0, 0.0, 0.0, 34.77906344483772, 44.835625328877896, 0.0, 0.0,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0005313191874358747, 0.0, 0.00016533814161379112, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0004179171803251336, 0.0017290828234722833, 0.0, 0.0020827005846636437, 0.0, 0.0,
    8.826982764996862, 23.19243343998926, 0.0, 95.1080498811086, 0.9863978034400682,
    0.9834382792465353, 0.0012286405048278493, 171.2667255897307, 0.9807858872435379, 0.0,
    0.0, 0.0, 0.0005130064588990679, 0.0, 0.00010854057858411537,
)  # fmt: skip

# Scores are taken on at most this many pixels: a larger image is sampled as a grid of
# tiles, so scoring a 1200 px variant costs about what a 500 px one does.
_SAMPLE_PIXELS = 512 * 512
_TILE = 128

_SMALLEST_SCALE = 8  # the reference stops below 8 px a side
# Terms weighted below this move a score by less than 0.05 on the corpus: skipped, and with
# them every channel of a scale that has no other term (most of the full-size scale).
_NEGLIGIBLE_WEIGHT = 0.01


def _weight(channel: int, scale: int, norm: int, kind: int) -> float:
    return _WEIGHTS[((channel * _SCALES + scale) * 2 + norm) * 3 + kind]


# Per scale, the XYB channels (0 X, 1 Y, 2 B) that carry a term worth computing.
_CHANNELS: tuple[tuple[int, ...], ...] = tuple(
    tuple(
        channel
        for channel in range(3)
        if any(
            _weight(channel, scale, norm, kind) >= _NEGLIGIBLE_WEIGHT
            for norm in range(2)
            for kind in range(3)
        )
    )
    for scale in range(_SCALES)
)


@dataclass(frozen=True, slots=True)
class _Scale:
    """The reference's terms at one scale, in memory: its XYB channels, their blurred
    mean, `variance - mean**2 + C2` and `1 + |xyb - mean|`."""

    index: int
    channels: tuple[int, ...]
    xyb: Any
    mean: Any
    variance: Any
    edge: Any


@dataclass(frozen=True, slots=True)
class Reference:
    """One image prepared as the reference side: its XYB pyramid, blurred, in memory."""

    width: int
    height: int
    scales: tuple[_Scale, ...]


def prepare(image: Any) -> Reference:
    """The reference side of :func:`score` for an 8-bit sRGB image (alpha ignored)."""
    scales: list[_Scale] = []
    for index, linear in _pyramid(image):
        if not _CHANNELS[index]:
            continue
        xyb = _channels(_xyb(linear), _CHANNELS[index]).copy_memory()
        bands = xyb.bands
        blurred = _blur(xyb.bandjoin(xyb * xyb)).copy_memory()
        mean, square = blurred.extract_band(0, n=bands), blurred.extract_band(bands, n=bands)
        variance = (square - mean * mean + _C2).copy_memory()
        edge = ((xyb - mean).abs() + 1.0).copy_memory()
        scales.append(_Scale(index, _CHANNELS[index], xyb, mean, variance, edge))
    return Reference(int(image.width), int(image.height), tuple(scales))


def score(reference: Reference, image: Any) -> float:
    """SSIMULACRA2 of `image` (8-bit sRGB, decoded) against `reference`: 100 is identical,
    90 visually lossless, 70 high quality, 50 medium; it can go below 0."""
    if (int(image.width), int(image.height)) != (reference.width, reference.height):
        raise ValueError("the image and the reference differ in size")
    levels = dict(_pyramid(image))
    total = 0.0
    for ref in reference.scales:
        xyb = _channels(_xyb(levels[ref.index]), ref.channels).copy_memory()
        averages = _averages(ref, xyb)
        for position, channel in enumerate(ref.channels):
            for norm in range(2):
                for kind in range(3):  # ssim, artefact, detail lost
                    weight = _weight(channel, ref.index, norm, kind)
                    if weight >= _NEGLIGIBLE_WEIGHT:
                        total += weight * averages[norm][kind][position]
    return _final(total)


def _pyramid(image: Any) -> list[tuple[int, Any]]:
    """Linear-light versions of `image`, halved at each scale, down to 8 px a side."""
    linear = _linear(image).copy_memory()
    levels: list[tuple[int, Any]] = []
    for index in range(_SCALES):
        if min(linear.width, linear.height) < _SMALLEST_SCALE:
            break
        levels.append((index, linear))
        if index + 1 < _SCALES and any(_CHANNELS[index + 1 :]):
            linear = linear.shrink(2, 2).copy_memory()
    return levels


def _averages(ref: _Scale, xyb: Any) -> tuple[list[list[float]], list[list[float]]]:
    """Mean (norm 0) and 4-norm (norm 1) of the ssim, artefact and detail-lost maps, per
    channel: `[norm][kind][channel position]`."""
    bands = xyb.bands
    blurred = _blur(xyb.bandjoin([xyb * xyb, ref.xyb * xyb])).copy_memory()
    mean = blurred.extract_band(0, n=bands)
    variance = blurred.extract_band(bands, n=bands)
    covariance = blurred.extract_band(2 * bands, n=bands)
    difference = ref.mean - mean
    numerator_m = 1.0 - difference * difference
    numerator_s = 2.0 * (covariance - ref.mean * mean) + _C2
    denominator = ref.variance + (variance - mean * mean)
    ssim = _positive(1.0 - numerator_m * numerator_s / denominator)
    ratio = ((xyb - mean).abs() + 1.0) / ref.edge - 1.0
    spread = ratio.abs()
    # artefact: edges the reference lacks; detail lost: its edges smoothed away.
    maps = ssim.bandjoin([(spread + ratio) * 0.5, (spread - ratio) * 0.5]).copy_memory()
    squared = maps * maps
    fixed = (maps.bandjoin(squared * squared) * _FIXED).cast("uint")
    pixels = float(xyb.width * xyb.height) * _FIXED
    sums = [total / pixels for total in _band_sums(fixed)]
    means = [[sums[kind * bands + p] for p in range(bands)] for kind in range(3)]
    fourth = [[sums[(3 + kind) * bands + p] ** 0.25 for p in range(bands)] for kind in range(3)]
    return means, fourth


def _band_sums(image: Any) -> list[float]:
    """The sum of each band, read from one `stats` call (exact for integer pixels below
    2**53 in all)."""
    stats = image.stats()
    values = struct.unpack(f"<{stats.width * stats.height}d", stats.write_to_memory())
    # Row b + 1 of the stats matrix is band b; column 2 holds its sum.
    return [values[(band + 1) * stats.width + 2] for band in range(image.bands)]


def _final(total: float) -> float:
    value = total * 0.9562382616834844
    value = (
        2.326765642916932 * value
        - 0.020884521182843837 * value * value
        + 6.248496625763138e-05 * value * value * value
    )
    if value <= 0:
        return 100.0
    return float(100.0 - 10.0 * value**0.6276336467831387)


def _linear(image: Any) -> Any:
    """Linear-light float RGB (scRGB) from 8-bit sRGB; alpha is dropped."""
    if image.bands > 3:
        image = image.extract_band(0, n=3)
    if image.bands < 3:
        image = image.bandjoin([image, image])
    return image.copy(interpretation="srgb").colourspace("scrgb")


def _xyb(linear: Any) -> Any:
    mixed = linear.recomb(pyvips.Image.new_from_array(_OPSIN)) + _BIAS
    cube_root = mixed ** (1 / 3)
    return cube_root.recomb(pyvips.Image.new_from_array(_POSITIVE_XYB)) + _POSITIVE_OFFSET


def _channels(image: Any, channels: tuple[int, ...]) -> Any:
    if channels == (0, 1, 2):
        return image
    if channels == tuple(range(channels[0], channels[0] + len(channels))):
        return image.extract_band(channels[0], n=len(channels))
    return image.extract_band(channels[0]).bandjoin([image.extract_band(c) for c in channels[1:]])


def _blur(image: Any) -> Any:
    return image.gaussblur(_SIGMA, min_ampl=_MIN_AMPLITUDE, precision="float")


def _positive(image: Any) -> Any:
    return (image + image.abs()) * 0.5


# --- pixels ------------------------------------------------------------------------------


class Scorer:
    """Scores encodings of one image: the reference is prepared once, on a fixed sample of
    its pixels, and every candidate is decoded and sampled the same way. An image with
    alpha is scored on black and on white, and the worse counts (as SSIMULACRA2's own tool
    does), so alpha errors cost as much as colour errors."""

    def __init__(self, image: Any) -> None:
        self._alpha = bool(image.hasalpha())
        self._references = [prepare(layer) for layer in _layers(image, self._alpha)]

    def __call__(self, data: bytes) -> float:
        decoded = pyvips.Image.new_from_buffer(data, "")
        if decoded.interpretation != "srgb":
            decoded = decoded.colourspace("srgb")
        layers = _layers(decoded.cast("uchar"), self._alpha)
        return min(score(ref, layer) for ref, layer in zip(self._references, layers, strict=True))


_BACKGROUNDS = ([0, 0, 0], [255, 255, 255])


def _layers(image: Any, alpha: bool) -> list[Any]:
    """What is scored: the sampled image, or with alpha, flattened on each background."""
    if not alpha:
        return [_sample(image)]
    if not image.hasalpha():  # an encoder dropped alpha: opaque over any background
        return [_sample(image)] * len(_BACKGROUNDS)
    return [_sample(image.flatten(background=bg).cast("uchar")) for bg in _BACKGROUNDS]


def _sample(image: Any) -> Any:
    """`image`, or for a large one a mosaic of tiles spread evenly over it."""
    if image.width * image.height <= _SAMPLE_PIXELS:
        return image
    across = max(1, min(image.width // _TILE, 4))
    down = max(1, min(image.height // _TILE, (_SAMPLE_PIXELS // (_TILE * _TILE)) // across))
    tile_width, tile_height = min(_TILE, image.width), min(_TILE, image.height)
    tiles = [
        image.crop(
            _spread(column, across, image.width - tile_width),
            _spread(row, down, image.height - tile_height),
            tile_width,
            tile_height,
        )
        for row in range(down)
        for column in range(across)
    ]
    return pyvips.Image.arrayjoin(tiles, across=across)


def _spread(index: int, count: int, room: int) -> int:
    return 0 if count <= 1 else index * room // (count - 1)
