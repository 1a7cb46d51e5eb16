"""Check an upload before it is stored: what it really is, that it decodes, and its EXIF.

The content decides, never the file name or the declared type. `proxy.probe` names the format
and checks the pixel budget from the header; then one pass decodes every pixel the proxy will
ever render (at reduced size where the format allows: JPEG and WebP shrink on load) so a
truncated or corrupt file is refused now rather than failing on each later request.
The small image of that pass also gives the placeholder (`uploader.placeholder`): its pixels,
upright, in sRGB, make the ThumbHash and the dominant colour without decoding anything again.
Blocking: the upload service runs `inspect_upload` in its executor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pyvips

from proxy.animation import AnimationLimits, check_upload
from proxy.errors import PixgateError, UnsupportedCoding, UnsupportedMedia
from proxy.probe import SourceFormat, decode_all, probe, sniff
from proxy.render import page_height, to_srgb
from uploader.exif import decode_exif
from uploader.placeholder import MAX_SIDE, Pixels, Placeholder, compute_placeholder

logger = logging.getLogger("pixgate.uploader.inspect")

# Format name -> Content-Type of the formats an upload may be.
CONTENT_TYPES: dict[str, str] = {
    SourceFormat.JPEG.value: "image/jpeg",
    SourceFormat.PNG.value: "image/png",
    SourceFormat.GIF.value: "image/gif",
    SourceFormat.WEBP.value: "image/webp",
    SourceFormat.AVIF.value: "image/avif",
    SourceFormat.HEIF.value: "image/heic",
}
ACCEPTED_FORMATS = frozenset(SourceFormat(name) for name in CONTENT_TYPES)
_ACCEPTED_HINT = "upload a JPEG, PNG, GIF, WebP, AVIF or HEIC image"
_CODING_HINT = "convert it to JPEG, PNG, WebP or AVIF"
# The dominant colour is taken from a copy of the decode pass's small image smaller still:
# a quarter of the pixels to count.
_COLOUR_SIZE = 32


@dataclass(frozen=True, slots=True)
class Inspected:
    """What an accepted upload is. `width`/`height` are as displayed, after the EXIF
    orientation, and those of one frame; `pages` counts animation frames (1 for a still)."""

    format: str  # jpeg, png, gif, webp, avif, heif
    width: int
    height: int
    pages: int = 1
    exif: dict[str, Any] = field(default_factory=dict)
    placeholder: Placeholder | None = None  # None only if the small image could not be read
    duration_ms: int = 0  # one pass of an animation, from its frame delays (0: a still)
    loop: int = 0  # times an animation plays; 0 forever

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def inspect_upload(
    data: bytes,
    *,
    max_pixels: int,
    keep_gps: bool,
    animation: AnimationLimits | None = None,
    with_placeholder: bool = True,
) -> Inspected:
    """Identify, validate and describe an upload.

    Raises UnsupportedMedia (415) for anything but JPEG, PNG, GIF, WebP, AVIF and HEIC, and
    for codings this libvips cannot decode (HEVC without a decoder, 12-bit JPEG), naming
    them; CorruptImage (422) for empty, unreadable, truncated or corrupt data; and
    SourceTooLarge (422) for a canvas of more pixels than `max_pixels`; TooManyFrames and
    AnimationTooLarge (422) for an animation over the `animation` limits (frames, and
    frames x canvas), decided from the header, so every frame accepted is served. The probe
    decides every one of these, as it does for the proxy.
    `with_placeholder` False skips the placeholder (its cost is measured against that:
    `python -m loadtest.placeholder_cost`).
    """
    if sniff(data) is SourceFormat.TIFF:  # refused before any TIFF parser sees it
        raise UnsupportedMedia(f"TIFF images are not accepted: {_ACCEPTED_HINT}")
    try:
        info = probe(data, max_pixels=max_pixels, max_frames=1)
    except UnsupportedCoding as error:
        raise UnsupportedCoding(f"{error.message}: {_CODING_HINT}") from error
    except UnsupportedMedia as error:
        raise UnsupportedMedia(f"{error.message}: {_ACCEPTED_HINT}") from error
    if info.format not in ACCEPTED_FORMATS:
        raise UnsupportedMedia(f"{info.format.name} images are not accepted: {_ACCEPTED_HINT}")

    if animation is not None:
        check_upload(info, animation)
    try:
        decoded = decode_all(data, info, info.pages)
    except PixgateError as error:
        detail = str(error.__cause__)
        logger.info("event=upload_undecodable format=%s detail=%r", info.format.value, detail)
        if isinstance(error, UnsupportedCoding):
            raise UnsupportedCoding(f"{error.message}: {_CODING_HINT}") from error.__cause__
        raise
    return Inspected(
        format=info.format.value,
        width=info.oriented_width,
        height=info.oriented_height,
        pages=info.pages,
        exif=decode_exif(decoded, keep_gps=keep_gps),  # the loader's metadata flows through
        placeholder=placeholder_of(decoded) if with_placeholder else None,
        duration_ms=info.duration_ms,
        loop=info.loop,
    )


def placeholder_of(small: Any) -> Placeholder | None:
    """The placeholder of an image already decoded small (`decode_all`'s result, at most
    MAX_SIDE a side): its first frame, turned upright, as 8-bit sRGB RGBA. None (logged) if
    libvips fails here, so a placeholder never costs an upload that decoded fine."""
    try:
        frame = small.crop(0, 0, small.width, page_height(small)).autorot()
        if frame.width > MAX_SIDE or frame.height > MAX_SIDE:
            frame = frame.thumbnail_image(MAX_SIDE)
        frame = to_srgb(_from_profile(frame))
        if not frame.hasalpha():
            frame = frame.bandjoin(255)
        frame = frame.copy_memory()
        colour = frame
        if max(frame.width, frame.height) > _COLOUR_SIZE:
            colour = frame.thumbnail_image(_COLOUR_SIZE)
        return compute_placeholder(_pixels(frame), _pixels(colour))
    except pyvips.Error as error:
        logger.warning("event=placeholder_failed detail=%r", str(error))
        return None


def _from_profile(image: Any) -> Any:
    """sRGB through the embedded ICC profile (P3, Adobe RGB, CMYK), when there is one that
    libvips can use; otherwise the image as it is."""
    if image.get_typeof("icc-profile-data") == 0:
        return image
    try:
        return image.icc_transform("srgb", embedded=True)
    except pyvips.Error:
        return image


def _pixels(image: Any) -> Pixels:
    return Pixels(int(image.width), int(image.height), bytes(image.write_to_memory()))
