"""Carry out a Plan with libvips: load with shrink-on-load, a few small steps, encode.

`render` blocks (libvips does the work in its own threads and releases the GIL), so the
HTTP layer calls it in a bounded executor. Each step is a function from a `pyvips.Image` to
a `pyvips.Image` doing one thing; per-frame steps run on every frame of an animation.
Any libvips failure becomes `Unprocessable` with a short message; libvips' own text, which
may name temporary files, is logged, never shown to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyvips

from proxy import metric
from proxy.deadline import Deadline
from proxy.errors import Unprocessable
from proxy.options import Color, OutputFormat
from proxy.plan import WHITE, Canvas, CropBox, Plan, SmartCrop
from proxy.quality import SEARCH_EFFORT, AutoQuality, encoder_quality, search

logger = logging.getLogger("pixgate.render")

# Loaders pixgate needs (libvips class names; subclasses follow their parent's block state).
_ALLOWED_LOADERS = (
    "VipsForeignLoadJpeg",
    "VipsForeignLoadUhdr",
    "VipsForeignLoadPng",
    "VipsForeignLoadNsgif",
    "VipsForeignLoadWebp",
    "VipsForeignLoadHeif",
    "VipsForeignLoadTiff",
)

# Largest width or height each encoder writes (libwebp, AV1 in libheif, libjpeg-turbo, GIF).
_MAX_DIMENSION = {
    OutputFormat.WEBP: 16383,
    OutputFormat.AVIF: 16384,
    OutputFormat.JPEG: 65500,
    OutputFormat.GIF: 65535,
}

# Encoder options beyond Q and effort (README, Quality: the figures behind each).
_JPEG: dict[str, Any] = {"optimize_coding": True, "quant_table": 3, "interlace": True}
_WEBP: dict[str, Any] = {}
_AVIF: dict[str, Any] = {}

# Below this, lowering the quality further to meet max_bytes only makes mush.
_MIN_FIT_QUALITY = 10


@dataclass(frozen=True, slots=True)
class Rendered:
    """An encoded result. `quality` is the encoder's Q used (found by `q:auto`, lowered by
    max_bytes); 0 if lossless."""

    data: bytes
    format: OutputFormat
    width: int
    height: int
    quality: int
    frames: int = 1
    frames_dropped: int = 0  # frames of the source an animated output left out (the cap)


def configure_libvips(*, concurrency: int | None = None) -> None:
    """Tune libvips for a long-running server; the app calls this once at start-up.

    The operation cache is off (every request has new bytes; caching only holds memory),
    untrusted operations are blocked and only the loaders of the formats pixgate reads stay
    enabled, so a crafted input can never reach another parser. `concurrency` bounds the
    threads libvips uses per image (default: one per CPU).
    """
    pyvips.cache_set_max(0)
    pyvips.cache_set_max_mem(0)
    pyvips.cache_set_max_files(0)
    if concurrency is not None:
        pyvips.concurrency_set(max(1, concurrency))
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for loader in _ALLOWED_LOADERS:
        pyvips.operation_block_set(loader, False)


def render(data: bytes, plan: Plan, deadline: Deadline | None = None) -> Rendered:
    """Render `data` (already probed) as `plan` says; libvips stops once `deadline` passes."""
    watch = _unwatched if deadline is None else deadline.watch
    try:
        image = watch(load(data, plan))
        image = to_srgb(image)
        image = materialise(image, plan)
        image = frame_timing(image, plan)
        image = per_frame(image, plan, _FRAME_STEPS)
        image = watch(flatten(image, plan))  # steps that copied to memory left the watch
        return encode(image, plan, watch)
    except pyvips.Error as error:
        logger.warning("event=render_failed format=%s detail=%r", plan.output_format.value, error)
        raise Unprocessable(_client_message(error)) from error


# --- steps -------------------------------------------------------------------------------


def load(data: bytes, plan: Plan) -> Any:
    """Decode straight to the planned size: JPEG and WebP shrink on load, so a 24 MP photo
    resized to 800 px is never decoded at full size. Also applies EXIF orientation (unless
    the plan says not to) and converts CMYK and ICC-tagged pixels to sRGB."""
    loader_options = "fail_on=truncated"  # the thumbnail fail_on argument is not passed on
    if plan.frames > 1:
        loader_options += f",n={plan.frames}"
    if plan.page > 0:
        loader_options += f",page={plan.page}"
    # Without output_profile, thumbnail leaves tagged pixels in their own space (P3, Adobe
    # RGB); with it on an untagged image it runs a useless sRGB->sRGB transform (+80% time).
    colour: dict[str, str] = {"output_profile": "srgb"} if plan.icc_to_srgb else {}
    return pyvips.Image.thumbnail_buffer(
        data,
        plan.thumbnail_width,
        height=plan.thumbnail_height,
        size="force",
        no_rotate=not plan.auto_rotate,
        option_string=loader_options,
        **colour,
    )


def to_srgb(image: Any) -> Any:
    """8-bit sRGB whatever came in (greyscale, 16-bit)."""
    if image.interpretation != "srgb":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def materialise(image: Any, plan: Plan) -> Any:
    """Decode into memory when a later step needs random access: the loaders stream lines
    in order, and rotation and smartcrop read out of order. Costs one resized image."""
    if plan.rotate or isinstance(plan.crop, SmartCrop):
        return image.copy_memory()
    return image


def frame_timing(image: Any, plan: Plan) -> Any:
    """One delay per rendered frame, as the source gives them, and its loop count: the
    loaders list the delays of every frame in the file, also of those not loaded."""
    if plan.frames < 2 or image.get_typeof("delay") == 0:
        return image
    delays = [max(0, int(delay)) for delay in image.get("delay")][: plan.frames]
    delays += [delays[-1] if delays else 100] * (plan.frames - len(delays))
    timed = image.copy()
    timed.set_type(pyvips.GValue.array_int_type, "delay", delays)
    if timed.get_typeof("loop") == 0:
        timed.set_type(pyvips.GValue.gint_type, "loop", 0)
    return timed


def rotate(image: Any, plan: Plan) -> Any:
    """The user's rotation, clockwise, after EXIF orientation."""
    if plan.rotate == 90:
        return image.rot90()
    if plan.rotate == 180:
        return image.rot180()
    if plan.rotate == 270:
        return image.rot270()
    return image


def crop(image: Any, plan: Plan) -> Any:
    box = plan.crop
    if isinstance(box, CropBox):
        return image.crop(box.left, box.top, box.width, box.height)
    if isinstance(box, SmartCrop):
        return image.smartcrop(box.width, box.height, interesting="attention")
    return image


def extend(image: Any, plan: Plan) -> Any:
    """Pad onto the planned canvas with the background, or transparency when there is none."""
    canvas: Canvas | None = plan.extend
    if canvas is None:
        return image
    if plan.background is None:
        if not image.hasalpha():
            image = image.addalpha()
        fill = [0, 0, 0, 0]
    else:
        fill = _rgb(plan.background) + ([255] if image.hasalpha() else [])
    return image.embed(
        canvas.left, canvas.top, canvas.width, canvas.height, extend="background", background=fill
    )


def blur(image: Any, plan: Plan) -> Any:
    """Gaussian blur; premultiplied so transparent pixels do not bleed dark fringes."""
    if plan.blur_sigma <= 0:
        return image
    if not image.hasalpha():
        return image.gaussblur(plan.blur_sigma)
    blurred = image.premultiply().gaussblur(plan.blur_sigma).unpremultiply()
    return blurred.cast("uchar").copy(interpretation="srgb")


def sharpen(image: Any, plan: Plan) -> Any:
    if plan.sharpen_sigma <= 0:
        return image
    return image.sharpen(sigma=plan.sharpen_sigma)


def flatten(image: Any, plan: Plan) -> Any:
    """Drop alpha onto the background when the format has none or a background was asked."""
    if not plan.flatten or not image.hasalpha():
        return image
    background = plan.background or WHITE
    return image.flatten(background=_rgb(background)).cast("uchar")


def fit_format(image: Any, plan: Plan) -> Any:
    """Scale down, both axes alike, to the largest size the output format holds (as imgproxy
    does): a valid 1x30000 strip comes out as a 1x16383 WebP instead of failing to encode."""
    limit = _MAX_DIMENSION.get(plan.output_format)
    longest = max(image.width, image.height)
    if limit is None or longest <= limit:
        return image
    width = max(1, min(limit, round(image.width * limit / longest)))
    height = max(1, min(limit, round(image.height * limit / longest)))
    return image.resize(width / image.width, vscale=height / image.height)


_FRAME_STEPS: tuple[Callable[[Any, Plan], Any], ...] = (
    rotate,
    crop,
    extend,
    blur,
    sharpen,
    fit_format,
)


def per_frame(image: Any, plan: Plan, steps: Sequence[Callable[[Any, Plan], Any]]) -> Any:
    """Apply `steps` to every frame of an animation (one frame for a still), then restack."""
    frame_height = page_height(image)
    if frame_height >= image.height:
        return _apply(image, plan, steps)
    if not _changes_frames(image.width, frame_height, plan):
        # Cutting 300 frames apart and joining them again costs as much as the resize.
        return image
    frames = [
        _apply(image.crop(0, top, image.width, frame_height), plan, steps)
        for top in range(0, image.height - frame_height + 1, frame_height)
    ]
    roll = pyvips.Image.arrayjoin(frames, across=1).copy()
    roll.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    roll.set_type(pyvips.GValue.gint_type, "n-pages", len(frames))
    if image.get_typeof("delay"):
        delays = list(image.get("delay"))[: len(frames)]
        roll.set_type(pyvips.GValue.array_int_type, "delay", delays)
    return roll


def _changes_frames(width: int, height: int, plan: Plan) -> bool:
    """Whether any step of _FRAME_STEPS would change a `width`x`height` frame."""
    limit = _MAX_DIMENSION.get(plan.output_format)
    return bool(
        plan.rotate
        or plan.crop is not None
        or plan.extend is not None
        or plan.blur_sigma > 0
        or plan.sharpen_sigma > 0
        or (limit is not None and max(width, height) > limit)
    )


def _apply(image: Any, plan: Plan, steps: Sequence[Callable[[Any, Plan], Any]]) -> Any:
    for step in steps:
        image = step(image, plan)
    return image


def page_height(image: Any) -> int:
    """One frame's height: animations decode as a strip of frames."""
    if image.get_typeof("page-height") == 0:
        return int(image.height)
    height = int(image.get("page-height"))
    if height <= 0 or image.height % height != 0:
        return int(image.height)
    return height


# --- encoding ----------------------------------------------------------------------------


def encode(image: Any, plan: Plan, watch: Callable[[Any], Any] | None = None) -> Rendered:
    """Encode at the planned quality, or the one `q:auto` finds; with max_bytes, lower the
    quality step by step (as imgproxy does) until the result fits or the quality reaches a
    floor, and return the smallest attempt."""
    fmt = plan.output_format
    auto = plan.auto_quality
    if auto is not None and (plan.animated or _too_small_to_score(image)):
        auto = AutoQuality(auto.target, 1)  # one encode at the search's starting point
    searching = auto is not None and auto.max_encodes > 1
    if plan.max_bytes > 0 or searching:
        image = image.copy_memory()  # decode and resize once, however many encodes follow
        if watch is not None:
            image = watch(image)
    settings = encoder_settings(plan)

    def save(quality: int) -> bytes:
        return _save(image, plan, quality, settings)

    if auto is None:
        quality = encoder_quality(fmt, plan.quality)
        data = save(quality)
    else:
        quality, data = _auto(image, plan, auto, settings, save)
    while plan.max_bytes > 0 and len(data) > plan.max_bytes and quality > _MIN_FIT_QUALITY:
        excess = len(data) / plan.max_bytes
        factor = 0.25 if excess > 3 else 0.5 if excess > 1.5 else 0.75
        quality = max(_MIN_FIT_QUALITY, int(quality * factor))
        data = save(quality)
    return _rendered(image, data, plan, quality)


def _auto(
    image: Any,
    plan: Plan,
    auto: AutoQuality,
    settings: dict[str, Any],
    save: Callable[[int], bytes],
) -> tuple[int, bytes]:
    """q:auto within `auto.max_encodes` encodes. Where a format searches at a lower effort
    (AVIF), the last encode is the result's, at the planned effort."""
    fmt = plan.output_format
    scorers: list[metric.Scorer] = []

    def measure(data: bytes) -> float:
        if not scorers:  # the reference is prepared only when a search scores something
            scorers.append(metric.Scorer(image))
        return scorers[0](data)

    effort = SEARCH_EFFORT.get(fmt, plan.effort)
    if effort >= plan.effort or auto.max_encodes < 2:
        attempt = search(save, measure, fmt, auto)
        return attempt.quality, attempt.data
    fast = {**settings, "effort": effort}
    attempt = search(
        lambda quality: _save(image, plan, quality, fast),
        measure,
        fmt,
        AutoQuality(auto.target, auto.max_encodes - 1),
    )
    return attempt.quality, save(attempt.quality)


def _too_small_to_score(image: Any) -> bool:
    return min(int(image.width), page_height(image)) < metric.SMALLEST_SCORED_SIDE


def encoder_settings(plan: Plan) -> dict[str, Any]:
    """Encoder options beyond Q (README, Quality)."""
    options: dict[str, Any] = {"keep": "none"} if plan.strip_metadata else {}
    fmt = plan.output_format
    if fmt is OutputFormat.JPEG:
        options.update(_JPEG)
    elif fmt is OutputFormat.WEBP:
        options.update(_WEBP, effort=plan.effort)
    elif fmt is OutputFormat.AVIF:
        options.update(_AVIF, effort=plan.effort)
    return options


def _rendered(image: Any, data: bytes, plan: Plan, quality: int) -> Rendered:
    return Rendered(
        data=data,
        format=plan.output_format,
        width=int(image.width),
        height=page_height(image),
        quality=quality,
        frames=max(1, int(image.height) // page_height(image)),
    )


def _save(image: Any, plan: Plan, quality: int, settings: dict[str, Any]) -> bytes:
    fmt = plan.output_format
    if fmt is OutputFormat.JPEG:
        data = image.jpegsave_buffer(Q=quality, **settings)
    elif fmt is OutputFormat.PNG:
        data = image.pngsave_buffer(**settings)
    elif fmt is OutputFormat.WEBP:
        data = image.webpsave_buffer(Q=quality, **settings)
    elif fmt is OutputFormat.AVIF:
        data = image.heifsave_buffer(Q=quality, compression="av1", **settings)
    else:
        data = image.gifsave_buffer(**settings)
    return bytes(data)


# --- helpers -----------------------------------------------------------------------------


def _unwatched(image: Any) -> Any:
    return image


def _rgb(color: Color) -> list[int]:
    return [color.red, color.green, color.blue]


_KNOWN_FAILURES = (
    (
        ("premature end", "truncated", "read error", "bad seek", "unable to parse"),
        "the source image is truncated or corrupt",
    ),
    (("not in a known format", "unsupported"), "the source image format is not supported"),
)


def _client_message(error: Exception) -> str:
    """A short message for the client; libvips' detail may name paths on the host."""
    detail = str(error).lower()
    for needles, message in _KNOWN_FAILURES:
        if any(needle in detail for needle in needles):
            return message
    return "the image could not be processed"
