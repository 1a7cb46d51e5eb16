"""Plan a transform: pure arithmetic from Options and a source header to a frozen Plan.

Nothing here touches pixels or imports pyvips; `proxy.render` carries a Plan out step by
step. Geometry follows imgproxy:

* `width`/`height` are multiplied by `dpr`. A 0 side follows the source aspect ratio from the
  other side (both 0: the source size); with `force`, a 0 side keeps the source's length, as
  imgproxy documents.
* `fit` fits inside the box; `fill` covers it, then crops to it by gravity (`sm` = libvips'
  attention smartcrop); `fill-down` is `fill`, except that when the source is too small to
  cover the box the crop keeps the box's aspect ratio rather than its size; `force` stretches
  to the box; `auto` is `fill` when source and box are both landscape (or both portrait),
  else `fit`.
* Without `enlarge`, the resize never upscales (an upscale is scaled back, both axes alike).
* `extend` pads the result to the requested size at the extend gravity, with the background
  colour; without one, transparent when the output format has alpha, else white (the
  colour every flatten uses by default, as in imgproxy).
* Gravity offsets are pixels (times `dpr`) when at least 1 in magnitude, else fractions of
  the outer size; positive offsets move inward from the gravity's edge. Results are clamped
  so a crop stays inside the image and an image inside its canvas.
* Sizes are worked out in the final orientation: after EXIF orientation (unless auto-rotate
  is off) and the user rotation, which render applies after the resize.
* `Limits.max_output_pixels` bounds the resized image and the output of one frame, and
  `Limits.max_animation_pixels` all frames of an animated output: a plan that exceeds either
  is scaled down proportionally.
* An animated output keeps the source's frames, up to `Limits.max_animation_frames` (the
  pipeline sets it per source: all frames of an upload); `page` asks for one frame, a still.

All arithmetic is exact (ints and Fractions); every size is at least 1 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING

from proxy.errors import BadRequest
from proxy.options import (
    AUTO_QUALITY,
    Color,
    Gravity,
    GravityType,
    Options,
    OutputFormat,
    ResizingType,
)
from proxy.quality import AutoQuality

if TYPE_CHECKING:  # proxy.probe imports pyvips; planning stays free of it
    from proxy.probe import SourceInfo

WHITE = Color(255, 255, 255)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one render may produce."""

    max_output_pixels: int
    max_animation_frames: int
    max_animation_pixels: int = 0  # all frames of an animated output (0: max_output_pixels)


# Measured on 4000x3000 JPEGs -> 800 px WebP/AVIF (a smooth and a grainy one, 2 cores):
# WebP effort 2 costs a quarter less CPU than libwebp's balanced 4 for 0.6% more bytes
# (3 buys nothing over 4), measured by `make bench` (docs/performance.md). AVIF effort:
# README "Quality".
_LOSSY = frozenset({OutputFormat.JPEG, OutputFormat.WEBP, OutputFormat.AVIF})

# SSIMULACRA2 that `q:auto` reaches: README "Quality".
DEFAULT_QUALITY_TARGET = 75.0
DEFAULT_AUTO_MAX_ENCODES = 3
# A quality for formats with no setting: `q:auto` (0 or an unlisted format).
_DEFAULT_QUALITY = AUTO_QUALITY


@dataclass(frozen=True, slots=True)
class EncoderDefaults:
    """Quality and effort used when a URL does not set them; what `q:auto` aims at."""

    quality: tuple[tuple[OutputFormat, int], ...] = ()
    webp_effort: int = 2
    avif_effort: int = 4
    quality_target: float = DEFAULT_QUALITY_TARGET
    auto_max_encodes: int = DEFAULT_AUTO_MAX_ENCODES

    def quality_for(self, output_format: OutputFormat) -> int:
        """Default quality of a lossy format (1-100 or AUTO_QUALITY); 0 for PNG and GIF."""
        if output_format not in _LOSSY:
            return 0
        for fmt, quality in self.quality:
            if fmt is output_format and quality != 0:
                return quality
        return _DEFAULT_QUALITY

    def effort_for(self, output_format: OutputFormat) -> int:
        """Encoder effort of WebP and AVIF; 0 (libvips' default) for the others."""
        if output_format is OutputFormat.WEBP:
            return self.webp_effort
        if output_format is OutputFormat.AVIF:
            return self.avif_effort
        return 0


@dataclass(frozen=True, slots=True)
class CropBox:
    """A rectangle of the resized (and rotated) image to keep."""

    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class SmartCrop:
    """Keep the `width`x`height` region libvips' attention strategy finds most interesting."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Canvas:
    """Extend onto a `width`x`height` canvas, the image's top-left corner at (left, top)."""

    width: int
    height: int
    left: int
    top: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything render needs, in the order it is applied.

    `thumbnail_width`/`thumbnail_height` are the exact size of the resize (per frame), in the
    orientation after EXIF orientation (when `auto_rotate`) and before `rotate`. `icc_to_srgb`
    asks the load to transform from the embedded ICC profile to sRGB (untagged sources are
    taken as sRGB already, and CMYK ones are always converted). `crop` and
    `extend` work in the final orientation. `width`/`height` are the output size per frame.
    `background` is the colour of extension and flattening; None extends with transparency.
    `quality` is pixgate's 1-100 scale (proxy.quality maps it to each encoder's Q);
    `auto_quality`, when set, replaces it by a search for the lowest quality reaching a
    target. `quality` and `effort` are 0 where the encoder has none (PNG, GIF; JPEG effort).
    """

    thumbnail_width: int
    thumbnail_height: int
    auto_rotate: bool
    icc_to_srgb: bool
    frames: int
    rotate: int
    crop: CropBox | SmartCrop | None
    extend: Canvas | None
    blur_sigma: float
    sharpen_sigma: float
    background: Color | None
    flatten: bool
    output_format: OutputFormat
    quality: int
    effort: int
    strip_metadata: bool
    auto_quality: AutoQuality | None
    max_bytes: int
    width: int
    height: int
    page: int = 0  # the first frame loaded: a still from `page`, or 0

    @property
    def animated(self) -> bool:
        return self.frames > 1


@dataclass(frozen=True, slots=True)
class _Geometry:
    """Sizes in the final orientation."""

    thumb_width: int
    thumb_height: int
    crop: CropBox | SmartCrop | None
    extend: Canvas | None

    @property
    def cropped_size(self) -> tuple[int, int]:
        if self.crop is None:
            return self.thumb_width, self.thumb_height
        return self.crop.width, self.crop.height

    @property
    def output_size(self) -> tuple[int, int]:
        if self.extend is None:
            return self.cropped_size
        return self.extend.width, self.extend.height


def plan_transform(
    options: Options,
    source: SourceInfo,
    output_format: OutputFormat,
    limits: Limits,
    encoder: EncoderDefaults,
) -> Plan:
    """The Plan that renders `source` as `options` ask, in `output_format`."""
    rotate = _validated_rotation(options.rotate)
    if not math.isfinite(options.dpr) or options.dpr <= 0:
        raise BadRequest("dpr must be a positive number")
    if options.width < 0 or options.height < 0:
        raise BadRequest("width and height must not be negative")

    frames, page = _frames(options, source, output_format, limits)

    src_width, src_height = _working_size(source, options.auto_rotate, rotate)
    geometry = _geometry(options, src_width, src_height, animated=frames > 1)
    geometry = _cap(geometry, limits.max_output_pixels, 1)
    if frames > 1:
        total = limits.max_animation_pixels or limits.max_output_pixels
        geometry = _cap(geometry, total, frames)

    background = options.background
    if background is None and not output_format.has_alpha:
        background = WHITE
    quality = 0
    auto_quality = None
    if output_format in _LOSSY:
        quality = options.quality_for(output_format) or encoder.quality_for(output_format)
        if quality == AUTO_QUALITY:
            auto_quality = AutoQuality(encoder.quality_target, encoder.auto_max_encodes)
            quality = 0
        else:
            quality = min(100, max(1, quality))

    thumb_width, thumb_height = geometry.thumb_width, geometry.thumb_height
    if rotate in (90, 270):
        thumb_width, thumb_height = thumb_height, thumb_width
    width, height = geometry.output_size
    return Plan(
        thumbnail_width=thumb_width,
        thumbnail_height=thumb_height,
        auto_rotate=options.auto_rotate,
        icc_to_srgb=source.icc_profile,
        frames=frames,
        rotate=rotate,
        crop=geometry.crop,
        extend=geometry.extend,
        blur_sigma=max(0.0, float(options.blur)),
        sharpen_sigma=max(0.0, float(options.sharpen)),
        background=background,
        flatten=options.background is not None or not output_format.has_alpha,
        output_format=output_format,
        quality=quality,
        effort=encoder.effort_for(output_format),
        strip_metadata=options.strip_metadata,
        auto_quality=auto_quality,
        max_bytes=max(0, options.max_bytes) if output_format in _LOSSY else 0,
        width=width,
        height=height,
        page=page,
    )


def _frames(
    options: Options, source: SourceInfo, output_format: OutputFormat, limits: Limits
) -> tuple[int, int]:
    """Frames to render and the first one: all (up to the limit) for an animated output,
    else the one `page` names (the last one kept past the end: a GIF decoder goes through
    every frame before it, so the limit bounds a still's cost too), else the first."""
    if not source.animated:
        return 1, 0
    if options.page is not None:
        last = max(1, min(source.pages, limits.max_animation_frames)) - 1
        return 1, min(options.page, last)
    if output_format.animated:
        return max(1, min(source.pages, limits.max_animation_frames)), 0
    return 1, 0


def _validated_rotation(rotate: int) -> int:
    if rotate % 90 != 0:
        raise BadRequest("rotate must be a multiple of 90 degrees")
    return rotate % 360


def _working_size(source: SourceInfo, auto_rotate: bool, rotate: int) -> tuple[int, int]:
    """The source size in the output orientation."""
    if auto_rotate:
        width, height = source.oriented_width, source.oriented_height
    else:
        width, height = source.width, source.height
    if rotate in (90, 270):
        width, height = height, width
    return width, height


def _geometry(options: Options, src_width: int, src_height: int, *, animated: bool) -> _Geometry:
    req_width = _scaled(options.width, options.dpr)
    req_height = _scaled(options.height, options.dpr)
    resizing = _resolved_type(options.resizing_type, src_width, src_height, req_width, req_height)

    x_scale, y_scale = _scales(resizing, src_width, src_height, req_width, req_height)
    if not options.enlarge:
        largest = max(x_scale, y_scale)
        if largest > 1:
            x_scale, y_scale = x_scale / largest, y_scale / largest
    thumb_width = max(1, _round(src_width * x_scale))
    thumb_height = max(1, _round(src_height * y_scale))

    result_width, result_height = req_width, req_height
    if resizing is ResizingType.FILL_DOWN:
        result_width, result_height = _fill_down_result(
            thumb_width, thumb_height, req_width, req_height
        )
    crop = _crop(
        thumb_width,
        thumb_height,
        result_width,
        result_height,
        options.gravity,
        options.dpr,
        animated=animated,
    )
    geometry = _Geometry(thumb_width, thumb_height, crop, None)
    if options.extend:
        cropped_width, cropped_height = geometry.cropped_size
        canvas = _canvas(
            cropped_width,
            cropped_height,
            req_width,
            req_height,
            options.extend_gravity,
            options.dpr,
        )
        geometry = replace(geometry, extend=canvas)
    return geometry


def _scaled(length: int, dpr: float) -> int:
    """A requested length times dpr; 0 stays 0 ("follow the other side")."""
    if length == 0:
        return 0
    return max(1, _round(length * Fraction(dpr)))


def _resolved_type(
    resizing: ResizingType, src_width: int, src_height: int, req_width: int, req_height: int
) -> ResizingType:
    if resizing is not ResizingType.AUTO:
        return resizing
    box_width, box_height = req_width or src_width, req_height or src_height
    if (src_width >= src_height) == (box_width >= box_height):
        return ResizingType.FILL
    return ResizingType.FIT


def _scales(
    resizing: ResizingType, src_width: int, src_height: int, req_width: int, req_height: int
) -> tuple[Fraction, Fraction]:
    """Horizontal and vertical scale before the enlarge rule."""
    x_scale = Fraction(req_width or src_width, src_width)
    y_scale = Fraction(req_height or src_height, src_height)
    if resizing is ResizingType.FORCE:
        return x_scale, y_scale
    if req_width == 0:
        return y_scale, y_scale
    if req_height == 0:
        return x_scale, x_scale
    if resizing is ResizingType.FIT:
        return min(x_scale, y_scale), min(x_scale, y_scale)
    return max(x_scale, y_scale), max(x_scale, y_scale)  # FILL, FILL_DOWN


def _fill_down_result(
    thumb_width: int, thumb_height: int, req_width: int, req_height: int
) -> tuple[int, int]:
    """The crop of fill-down: the requested box, or its aspect ratio where the image is short."""
    if req_width == 0 or req_height == 0:
        return req_width, req_height
    width_ratio = Fraction(req_width, thumb_width)
    height_ratio = Fraction(req_height, thumb_height)
    if width_ratio > height_ratio and width_ratio > 1:
        return thumb_width, max(1, _round(Fraction(thumb_width * req_height, req_width)))
    if height_ratio > width_ratio and height_ratio > 1:
        return max(1, _round(Fraction(thumb_height * req_width, req_height))), thumb_height
    return req_width, req_height


def _crop(
    thumb_width: int,
    thumb_height: int,
    result_width: int,
    result_height: int,
    gravity: Gravity,
    dpr: float,
    *,
    animated: bool,
) -> CropBox | SmartCrop | None:
    width = min(result_width or thumb_width, thumb_width)
    height = min(result_height or thumb_height, thumb_height)
    if width >= thumb_width and height >= thumb_height:
        return None
    # Smartcrop per frame would make an animation jump around: crop frames at the centre.
    if gravity.type is GravityType.SMART and not animated:
        return SmartCrop(width, height)
    left, top = _position(thumb_width, thumb_height, width, height, gravity, dpr)
    return CropBox(left, top, width, height)


def _canvas(
    width: int, height: int, req_width: int, req_height: int, gravity: Gravity, dpr: float
) -> Canvas | None:
    canvas_width = max(width, req_width)
    canvas_height = max(height, req_height)
    if canvas_width == width and canvas_height == height:
        return None
    left, top = _position(canvas_width, canvas_height, width, height, gravity, dpr)
    return Canvas(canvas_width, canvas_height, left, top)


_NORTH = frozenset({GravityType.NORTH, GravityType.NORTH_EAST, GravityType.NORTH_WEST})
_SOUTH = frozenset({GravityType.SOUTH, GravityType.SOUTH_EAST, GravityType.SOUTH_WEST})
_EAST = frozenset({GravityType.EAST, GravityType.NORTH_EAST, GravityType.SOUTH_EAST})
_WEST = frozenset({GravityType.WEST, GravityType.NORTH_WEST, GravityType.SOUTH_WEST})


def _position(
    outer_width: int,
    outer_height: int,
    inner_width: int,
    inner_height: int,
    gravity: Gravity,
    dpr: float,
) -> tuple[int, int]:
    """Top-left of an inner box placed in an outer one by gravity (imgproxy's calcPosition)."""
    x_offset = _offset(gravity.x_offset, outer_width, dpr)
    y_offset = _offset(gravity.y_offset, outer_height, dpr)
    left = (outer_width - inner_width) // 2 + x_offset
    top = (outer_height - inner_height) // 2 + y_offset
    if gravity.type in _NORTH:
        top = y_offset
    if gravity.type in _SOUTH:
        top = outer_height - inner_height - y_offset
    if gravity.type in _EAST:
        left = outer_width - inner_width - x_offset
    if gravity.type in _WEST:
        left = x_offset
    left = min(max(left, 0), outer_width - inner_width)
    top = min(max(top, 0), outer_height - inner_height)
    return left, top


def _offset(offset: float, outer: int, dpr: float) -> int:
    if not math.isfinite(offset) or offset == 0:
        return 0
    if abs(offset) >= 1:
        return _round(Fraction(offset) * Fraction(dpr))
    return _round(Fraction(offset) * outer)


def _cap(geometry: _Geometry, max_pixels: int, frames: int) -> _Geometry:
    """Scale the whole geometry down so no image it makes exceeds `max_pixels` (all frames)."""
    out_width, out_height = geometry.output_size
    largest = max(geometry.thumb_width * geometry.thumb_height, out_width * out_height) * frames
    if max_pixels <= 0 or largest <= max_pixels:
        return geometry
    # k = a dyadic rational no larger than sqrt(max_pixels / largest), so areas shrink by <= k².
    precision = 1 << 30
    k = Fraction(math.isqrt(max_pixels * precision * precision // largest), precision)
    thumb_width = max(1, math.floor(geometry.thumb_width * k))
    thumb_height = max(1, math.floor(geometry.thumb_height * k))
    crop = geometry.crop
    if isinstance(crop, CropBox):
        width = min(thumb_width, max(1, math.floor(crop.width * k)))
        height = min(thumb_height, max(1, math.floor(crop.height * k)))
        crop = CropBox(
            min(math.floor(crop.left * k), thumb_width - width),
            min(math.floor(crop.top * k), thumb_height - height),
            width,
            height,
        )
    elif isinstance(crop, SmartCrop):
        crop = SmartCrop(
            min(thumb_width, max(1, math.floor(crop.width * k))),
            min(thumb_height, max(1, math.floor(crop.height * k))),
        )
    capped = _Geometry(thumb_width, thumb_height, crop, None)
    if geometry.extend is not None:
        inner_width, inner_height = capped.cropped_size
        extend = geometry.extend
        width = max(inner_width, math.floor(extend.width * k))
        height = max(inner_height, math.floor(extend.height * k))
        capped = replace(
            capped,
            extend=Canvas(
                width,
                height,
                min(math.floor(extend.left * k), width - inner_width),
                min(math.floor(extend.top * k), height - inner_height),
            ),
        )
    return capped


def _round(value: Fraction | int) -> int:
    """Round half up, exactly."""
    return math.floor(Fraction(value) + Fraction(1, 2))
