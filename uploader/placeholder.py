"""What a page paints before the first image byte: a ThumbHash and the dominant colour.

Both are pure functions over a small RGBA thumbnail (at most 100x100 pixels, sRGB, not
premultiplied) that the upload's inspection already decodes; nothing here touches libvips.

ThumbHash (Evan Wallace's published algorithm) stores a DCT of the image in an LPQA colour
space (luminance, yellow-blue, red-green, alpha) in about 25 bytes, with the aspect ratio
and the alpha channel: `thumbhash_encode` and `thumbhash_decode` follow the reference
implementation, its header layout and its rounding (half up, as JavaScript's Math.round),
so hashes are interchangeable with every other ThumbHash library. The DCT sums are taken
row by row (separably), which costs a tenth of the reference's direct sum in Python and
differs from it only in the last bits of a float.

The dominant colour is the most populated cell of a histogram in CIE Lab (cells of 10 L x
16 a x 16 b units, each cell's count helped by half of its six neighbours' so that a
gradient split over cell borders still counts as one colour), reported as the mean sRGB
colour of the pixels in that cell: a flat colour comes back exactly.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache, reduce
from operator import add, mul, sub

__all__ = [
    "MAX_SIDE",
    "Pixels",
    "Placeholder",
    "aspect_text",
    "compute_placeholder",
    "decode_thumbhash_text",
    "dominant_color",
    "encode_png",
    "placeholder_data_url",
    "placeholder_size",
    "thumbhash_aspect_ratio",
    "thumbhash_average_rgba",
    "thumbhash_decode",
    "thumbhash_encode",
    "thumbhash_has_alpha",
]

MAX_SIDE = 100  # ThumbHash's limit: more pixels cost time and change nothing
PLACEHOLDER_SIDE = 32  # the longer side of a decoded placeholder, as the reference decodes

# Lab histogram cells for the dominant colour: L in 10s (0-100), a and b in 16s (-128-127).
_L_STEP = 10.0
_AB_STEP = 16.0
_NEIGHBOURS = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))


@dataclass(frozen=True, slots=True)
class Pixels:
    """An 8-bit RGBA image, row by row, not premultiplied by alpha."""

    width: int
    height: int
    rgba: bytes

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError("an image has at least one pixel")
        if len(self.rgba) != self.width * self.height * 4:
            raise ValueError(
                f"{self.width}x{self.height} RGBA needs {self.width * self.height * 4} bytes"
            )


@dataclass(frozen=True, slots=True)
class Placeholder:
    """What an upload stores: the ThumbHash (standard base64, padded) and `#rrggbb`."""

    thumbhash: str
    dominant_color: str


def compute_placeholder(hash_pixels: Pixels, colour_pixels: Pixels | None = None) -> Placeholder:
    """The ThumbHash of `hash_pixels` and the dominant colour of `colour_pixels` (a smaller
    thumbnail of the same image, for speed; `hash_pixels` when None)."""
    thumbhash = base64.b64encode(thumbhash_encode(hash_pixels)).decode("ascii")
    return Placeholder(thumbhash, dominant_color(colour_pixels or hash_pixels))


# --- ThumbHash -------------------------------------------------------------------------------


_ALPHA = [a / 255 for a in range(256)]
_WEIGHT = [a / 255 / 255 for a in range(256)]  # alpha / 255, as the reference weighs a value


def _round(value: float) -> int:
    """JavaScript's Math.round (half up), which the reference encoder uses."""
    return math.floor(value + 0.5)


@lru_cache(maxsize=256)
def _cosines(size: int, count: int) -> tuple[tuple[float, ...], ...]:
    """cos(pi / size * c * (i + 0.5)) for c < count, i < size (the reference's order)."""
    return tuple(
        tuple(math.cos(math.pi / size * c * (i + 0.5)) for i in range(size)) for c in range(count)
    )


def _terms(nx: int, ny: int) -> list[tuple[int, int]]:
    """The (cx, cy) of a channel's coefficients, DC first: a triangle, as the reference."""
    terms = []
    for cy in range(ny):
        cx = 0
        while cx * ny < nx * (ny - cy):
            terms.append((cx, cy))
            cx += 1
    return terms


def _encode_channel(
    channel: Sequence[float], w: int, h: int, nx: int, ny: int
) -> tuple[float, list[float], float]:
    """DC, AC terms normalised to 0..1, and the AC scale of one channel's DCT."""
    cos_x = _cosines(w, nx)
    cos_y = _cosines(h, ny)
    rows = [channel[y * w : (y + 1) * w] for y in range(h)]
    # Each row projected on each horizontal cosine once; every term is then a dot product
    # of those projections with a vertical cosine.
    projected = [[sum(map(mul, row, cos_x[cx])) for row in rows] for cx in range(nx)]
    dc = 0.0
    ac: list[float] = []
    scale = 0.0
    for cx, cy in _terms(nx, ny):
        value = sum(map(mul, projected[cx], cos_y[cy])) / (w * h)
        if cx or cy:
            ac.append(value)
            scale = max(scale, abs(value))
        else:
            dc = value
    if scale:
        ac = [0.5 + 0.5 / scale * value for value in ac]
    return dc, ac, scale


def thumbhash_encode(pixels: Pixels) -> bytes:
    """The ThumbHash of `pixels` (at most 100x100): 5 header bytes (6 with alpha) and the
    AC terms in 4 bits each, 19-25 bytes in all."""
    w, h, rgba = pixels.width, pixels.height, pixels.rgba
    if w > MAX_SIDE or h > MAX_SIDE:
        raise ValueError(f"{w}x{h} does not fit in {MAX_SIDE}x{MAX_SIDE}")
    count = w * h
    # Per pixel as the reference computes it (alpha / 255 * value, summed in order), by
    # tables and whole-list operations rather than an indexed loop.
    alphas = [_ALPHA[a] for a in rgba[3::4]]
    weights = [_WEIGHT[a] for a in rgba[3::4]]
    red = list(map(mul, weights, rgba[0::4]))
    green = list(map(mul, weights, rgba[1::4]))
    blue = list(map(mul, weights, rgba[2::4]))
    avg_a = reduce(add, alphas, 0.0)
    avg_r, avg_g, avg_b = (reduce(add, channel, 0.0) for channel in (red, green, blue))
    if avg_a:
        avg_r /= avg_a
        avg_g /= avg_a
        avg_b /= avg_a

    has_alpha = avg_a < count
    l_limit = 5 if has_alpha else 7  # fewer luminance terms leave room for alpha
    lx = max(1, _round(l_limit * w / max(w, h)))
    ly = max(1, _round(l_limit * h / max(w, h)))

    # LPQA, each pixel composited over the average colour.
    behind = [1 - alpha for alpha in alphas]
    red = [avg_r * k + v for k, v in zip(behind, red, strict=True)]
    green = [avg_g * k + v for k, v in zip(behind, green, strict=True)]
    blue = [avg_b * k + v for k, v in zip(behind, blue, strict=True)]
    lum = [(r + g + b) / 3 for r, g, b in zip(red, green, blue, strict=True)]
    yellow_blue = [(r + g) / 2 - b for r, g, b in zip(red, green, blue, strict=True)]
    red_green = list(map(sub, red, green))

    l_dc, l_ac, l_scale = _encode_channel(lum, w, h, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _encode_channel(yellow_blue, w, h, 3, 3)
    q_dc, q_ac, q_scale = _encode_channel(red_green, w, h, 3, 3)

    landscape = w > h
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (int(has_alpha) << 23)
    )
    header16 = (
        (ly if landscape else lx)
        | (_round(63 * p_scale) << 3)
        | (_round(63 * q_scale) << 9)
        | (int(landscape) << 15)
    )
    hash_bytes = bytearray(
        (header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8)
    )
    channels = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _encode_channel(alphas, w, h, 5, 5)
        hash_bytes.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        channels.append(a_ac)
    nibbles = [_round(15 * value) for ac in channels for value in ac]
    if len(nibbles) % 2:
        nibbles.append(0)
    pairs = zip(nibbles[::2], nibbles[1::2], strict=True)
    hash_bytes += bytes(low | (high << 4) for low, high in pairs)
    return bytes(hash_bytes)


@dataclass(frozen=True, slots=True)
class _Header:
    l_dc: float
    p_dc: float
    q_dc: float
    l_scale: float
    p_scale: float
    q_scale: float
    a_dc: float
    a_scale: float
    has_alpha: bool
    landscape: bool
    lx: int  # luminance terms across, as stored (before the minimum of 3)
    ly: int


def _header(hash_bytes: bytes) -> _Header:
    if len(hash_bytes) < 5:
        raise ValueError("a ThumbHash has at least 5 bytes")
    header24 = hash_bytes[0] | (hash_bytes[1] << 8) | (hash_bytes[2] << 16)
    header16 = hash_bytes[3] | (hash_bytes[4] << 8)
    has_alpha = bool(header24 >> 23)
    landscape = bool(header16 >> 15)
    if has_alpha and len(hash_bytes) < 6:
        raise ValueError("a ThumbHash with alpha has at least 6 bytes")
    long_side = 5 if has_alpha else 7
    short_side = header16 & 7
    alpha_byte = hash_bytes[5] if has_alpha else 0
    return _Header(
        l_dc=(header24 & 63) / 63,
        p_dc=((header24 >> 6) & 63) / 31.5 - 1,
        q_dc=((header24 >> 12) & 63) / 31.5 - 1,
        l_scale=((header24 >> 18) & 31) / 31,
        p_scale=((header16 >> 3) & 63) / 63,
        q_scale=((header16 >> 9) & 63) / 63,
        a_dc=(alpha_byte & 15) / 15 if has_alpha else 1.0,
        a_scale=(alpha_byte >> 4) / 15,
        has_alpha=has_alpha,
        landscape=landscape,
        lx=long_side if landscape else short_side,
        ly=short_side if landscape else long_side,
    )


def thumbhash_aspect_ratio(hash_bytes: bytes) -> float:
    """The approximate width/height the hash records (its luminance grid, e.g. 7:5)."""
    header = _header(hash_bytes)
    if header.lx < 1 or header.ly < 1:
        raise ValueError("not a ThumbHash: no luminance terms")
    return header.lx / header.ly


def thumbhash_has_alpha(hash_bytes: bytes) -> bool:
    """Whether the image the hash describes has transparent parts."""
    return _header(hash_bytes).has_alpha


def thumbhash_average_rgba(hash_bytes: bytes) -> tuple[float, float, float, float]:
    """The average colour the hash stores, each component 0..1."""
    header = _header(hash_bytes)
    return (*_rgb(header.l_dc, header.p_dc, header.q_dc), header.a_dc)


def _rgb(l: float, p: float, q: float) -> tuple[float, float, float]:  # noqa: E741
    b = l - 2 / 3 * p
    r = (3 * l - b + q) / 2
    g = r - q
    return (max(0.0, min(1.0, r)), max(0.0, min(1.0, g)), max(0.0, min(1.0, b)))


def thumbhash_decode(
    hash_bytes: bytes, width: int | None = None, height: int | None = None
) -> Pixels:
    """The placeholder image of a ThumbHash. Without a size it is the reference's: 32 pixels
    on the longer side at the hash's approximate aspect ratio; a page that knows the true
    ratio asks for that size instead (the DCT can be sampled at any size)."""
    header = _header(hash_bytes)
    lx, ly = max(3, header.lx), max(3, header.ly)
    ac_start = 6 if header.has_alpha else 5
    index = 0

    def read(nx: int, ny: int, scale: float) -> list[tuple[int, int, float]]:
        nonlocal index
        terms = []
        for cx, cy in _terms(nx, ny)[1:]:
            position = ac_start + (index >> 1)
            if position >= len(hash_bytes):
                raise ValueError("ThumbHash too short for its header")
            nibble = (hash_bytes[position] >> ((index & 1) << 2)) & 15
            terms.append((cx, cy, (nibble / 7.5 - 1) * scale))
            index += 1
        return terms

    # Saturation boosted by 1.25x to make up for quantisation, as the reference does.
    l_ac = read(lx, ly, header.l_scale)
    p_ac = read(3, 3, header.p_scale * 1.25)
    q_ac = read(3, 3, header.q_scale * 1.25)
    a_ac = read(5, 5, header.a_scale) if header.has_alpha else []

    if width is None or height is None:
        ratio = thumbhash_aspect_ratio(hash_bytes)
        width = _round(PLACEHOLDER_SIDE if ratio > 1 else PLACEHOLDER_SIDE * ratio)
        height = _round(PLACEHOLDER_SIDE / ratio if ratio > 1 else PLACEHOLDER_SIDE)
    if width < 1 or height < 1:
        raise ValueError("a decoded placeholder has at least one pixel")
    cx_stop = max(lx, 5 if header.has_alpha else 3)
    cy_stop = max(ly, 5 if header.has_alpha else 3)
    fx_by_x = list(zip(*_decode_cosines(width, cx_stop), strict=True))
    fy_by_y = list(zip(*_decode_cosines(height, cy_stop), strict=True))

    def row_weights(terms: list[tuple[int, int, float]], fy: Sequence[float]) -> list[float]:
        # Separable: fold the vertical cosines into one weight per horizontal term.
        weights = [0.0] * cx_stop
        for cx, cy, value in terms:
            weights[cx] += value * fy[cy] * 2
        return weights

    out = bytearray(width * height * 4)
    i = 0
    for fy in fy_by_y:
        wl = row_weights(l_ac, fy)
        wp = row_weights(p_ac, fy)
        wq = row_weights(q_ac, fy)
        wa = row_weights(a_ac, fy) if header.has_alpha else None
        for fx in fx_by_x:
            lum = header.l_dc + sum(map(mul, wl, fx))
            p = header.p_dc + sum(map(mul, wp, fx))
            q = header.q_dc + sum(map(mul, wq, fx))
            a = header.a_dc + sum(map(mul, wa, fx)) if wa is not None else 1.0
            b = lum - 2 / 3 * p
            r = (3 * lum - b + q) / 2
            g = r - q
            out[i] = max(0, _round(255 * min(1.0, r)))
            out[i + 1] = max(0, _round(255 * min(1.0, g)))
            out[i + 2] = max(0, _round(255 * min(1.0, b)))
            out[i + 3] = max(0, _round(255 * min(1.0, a)))
            i += 4
    return Pixels(width, height, bytes(out))


@lru_cache(maxsize=256)
def _decode_cosines(size: int, count: int) -> tuple[tuple[float, ...], ...]:
    """cos(pi / size * (i + 0.5) * c): the reference decoder's order of operations."""
    return tuple(
        tuple(math.cos(math.pi / size * (i + 0.5) * c) for i in range(size)) for c in range(count)
    )


def decode_thumbhash_text(text: str) -> bytes:
    """The bytes of a stored ThumbHash (standard base64); ValueError if it is not one."""
    try:
        hash_bytes = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a ThumbHash is stored as standard base64") from None
    thumbhash_aspect_ratio(hash_bytes)  # the header must make sense
    return hash_bytes


# --- dominant colour -------------------------------------------------------------------------

_LINEAR = [(v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4) for v in
           (i / 255 for i in range(256))]  # fmt: skip
# D65 reference white, as sRGB uses.
_XN, _YN, _ZN = 0.95047, 1.0, 1.08883


def _lab_f(t: float) -> float:
    return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116


def srgb_to_lab(r: int, g: int, b: int) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an 8-bit sRGB colour."""
    rl, gl, bl = _LINEAR[r], _LINEAR[g], _LINEAR[b]
    x = (0.4124564 * rl + 0.3575761 * gl + 0.1804375 * bl) / _XN
    y = (0.2126729 * rl + 0.7151522 * gl + 0.0721750 * bl) / _YN
    z = (0.0193339 * rl + 0.1191920 * gl + 0.9503041 * bl) / _ZN
    fx, fy, fz = _lab_f(x), _lab_f(y), _lab_f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _cell(r: int, g: int, b: int) -> tuple[int, int, int]:
    lum, a, b_ = srgb_to_lab(r, g, b)
    return (
        min(int(lum // _L_STEP), 9),
        int((a + 128) // _AB_STEP),
        int((b_ + 128) // _AB_STEP),
    )


def dominant_color(pixels: Pixels) -> str:
    """The dominant colour of `pixels` as ``#rrggbb`` (see the module doc). Pixels count by
    their opacity, so transparent areas have no say; an image with no opaque pixel at all
    gives its plain average."""
    rgba = pixels.rgba
    weights: dict[tuple[int, int, int], float] = {}  # weight of each colour present
    for j in range(0, len(rgba), 4):
        if alpha := rgba[j + 3]:
            colour = (rgba[j], rgba[j + 1], rgba[j + 2])
            weights[colour] = weights.get(colour, 0.0) + alpha / 255
    if not weights:
        count = len(rgba) // 4
        return _hex(*(sum(rgba[k::4]) / count for k in range(3)))
    cells: dict[tuple[int, int, int], float] = {}
    members: dict[tuple[int, int, int], list[tuple[tuple[int, int, int], float]]] = {}
    for colour, weight in weights.items():
        cell = _cell(*colour)
        cells[cell] = cells.get(cell, 0.0) + weight
        members.setdefault(cell, []).append((colour, weight))

    def score(cell: tuple[int, int, int]) -> tuple[float, float, tuple[int, int, int]]:
        near = sum(
            cells.get((cell[0] + dl, cell[1] + da, cell[2] + db), 0.0) for dl, da, db in _NEIGHBOURS
        )
        return (cells[cell] + near / 2, cells[cell], cell)  # ties: the fuller cell, then order

    winner = max(cells, key=score)
    total = cells[winner]
    mean = [sum(colour[k] * weight for colour, weight in members[winner]) / total for k in range(3)]
    return _hex(*mean)


def _hex(r: float, g: float, b: float) -> str:
    return "#" + "".join(f"{max(0, min(255, _round(v))):02x}" for v in (r, g, b))


# --- the page's placeholder image ----------------------------------------------------------


def aspect_text(width: int, height: int) -> str:
    """``1600, 1200`` → ``4:3``: the exact ratio in lowest terms."""
    ratio = Fraction(width, height)
    return f"{ratio.numerator}:{ratio.denominator}"


def placeholder_size(width: int, height: int) -> tuple[int, int]:
    """The size a decoded placeholder is drawn at: the image's own aspect ratio, 32 pixels
    on the longer side (a 4:3 photo gets 32x24, not the hash's approximate 7:5)."""
    if width >= height:
        return PLACEHOLDER_SIDE, max(1, _round(PLACEHOLDER_SIDE * height / width))
    return max(1, _round(PLACEHOLDER_SIDE * width / height)), PLACEHOLDER_SIDE


@lru_cache(maxsize=2048)
def placeholder_data_url(thumbhash: str, width: int, height: int) -> str:
    """A ``data:image/png;base64,...`` URL of the ThumbHash drawn at `width`x`height` (the
    image's size; the placeholder keeps its ratio). Cached: pages ask for the same ones."""
    pixels = thumbhash_decode(decode_thumbhash_text(thumbhash), *placeholder_size(width, height))
    return "data:image/png;base64," + base64.b64encode(encode_png(pixels)).decode("ascii")


def encode_png(pixels: Pixels) -> bytes:
    """A PNG of `pixels`: RGB when every pixel is opaque, else RGBA; each row Sub-filtered
    (placeholders are smooth, so the differences compress well)."""
    w, h, rgba = pixels.width, pixels.height, pixels.rgba
    opaque = all(alpha == 255 for alpha in rgba[3::4])
    channels = 3 if opaque else 4
    if opaque:
        data = bytearray(w * h * 3)
        data[0::3], data[1::3], data[2::3] = rgba[0::4], rgba[1::4], rgba[2::4]
    else:
        data = bytearray(rgba)
    stride = w * channels
    raw = bytearray()
    for y in range(h):
        row = data[y * stride : (y + 1) * stride]
        shifted = bytes(channels) + row[:-channels]
        raw.append(1)  # filter type Sub: each byte minus the one a pixel to its left
        raw += bytes((a - b) & 255 for a, b in zip(row, shifted, strict=True))
    colour_type = 2 if opaque else 6

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)),
            chunk(b"IDAT", zlib.compress(bytes(raw), 9)),
            chunk(b"IEND", b""),
        )
    )
