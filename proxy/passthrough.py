"""Serve a GIF as its own bytes when the variant asked of it is the source unchanged.

An upload's own links carry its extension, so a GIF's original link asks for a GIF at the
source's size with every frame: re-encoding it quantises every frame again (seconds of CPU
for a long animation, docs/performance.md "Animations") for nothing but loss. `is_passthrough`
says from the Plan whether any step would change a pixel; when none would, the source's
bytes are the answer, less its comment, plain-text and application extensions other than
the loop count when the plan strips metadata.
"""

from __future__ import annotations

from proxy.errors import CorruptImage
from proxy.options import OutputFormat
from proxy.plan import Plan
from proxy.probe import (
    GIF_EXTENSION,
    GIF_IMAGE,
    GIF_TRAILER,
    SourceFormat,
    SourceInfo,
    gif_blocks,
    gif_screen_end,
)
from proxy.render import Rendered

_GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
_GRAPHIC_CONTROL = 0xF9
_PLAIN_TEXT = 0x01
_APPLICATION = 0xFF
# Application extensions that carry the loop count (Netscape's, and its Adobe twin).
_LOOP_APPLICATIONS = (b"\x0bNETSCAPE2.0", b"\x0bANIMEXTS1.0")


def is_passthrough(plan: Plan, info: SourceInfo) -> bool:
    """Whether rendering `plan` would give back the GIF `info` describes, pixel for pixel:
    GIF to GIF, every frame from the first, the source's size, and no step that changes a
    pixel (colour transform, rotation, crop, extend, blur, sharpen, flatten of alpha,
    encoder quality search or byte budget)."""
    same_size = (
        plan.thumbnail_width == info.width
        and plan.thumbnail_height == info.height
        and plan.width == info.width
        and plan.height == info.height
    )
    return bool(
        info.format is SourceFormat.GIF
        and plan.output_format is OutputFormat.GIF
        and plan.frames == info.pages
        and plan.page == 0
        and same_size
        and (info.orientation == 1 or not plan.auto_rotate)
        and not plan.icc_to_srgb
        and plan.rotate == 0
        and plan.crop is None
        and plan.extend is None
        and plan.blur_sigma <= 0
        and plan.sharpen_sigma <= 0
        and not (plan.flatten and info.has_alpha)
        and plan.auto_quality is None
        and plan.max_bytes == 0
    )


def passthrough(data: bytes, plan: Plan, info: SourceInfo) -> Rendered:
    """The source as the result of `plan` (for which `is_passthrough` holds)."""
    body = rewrite_gif(data, strip_metadata=plan.strip_metadata)
    return Rendered(
        data=body,
        format=OutputFormat.GIF,
        width=info.width,
        height=info.height,
        quality=0,
        frames=info.pages,
    )


def rewrite_gif(data: bytes, *, strip_metadata: bool) -> bytes:
    """`data` up to its trailer (bytes after it, which no decoder reads, are dropped, and
    data that ends cleanly between blocks gets one). With `strip_metadata`, only the
    header, logical screen, global colour table, graphic control extensions, images
    (descriptor, local colour table, data) and the loop extension are kept: comments,
    plain text and other application extensions (XMP, ICC) are dropped, and a graphic
    control extension that governed a dropped plain text goes with it. CorruptImage for
    anything not a GIF or cut short inside a block."""
    screen_end = gif_screen_end(data)
    if data[:6] not in _GIF_SIGNATURES or screen_end > len(data):
        raise CorruptImage("the source is not a valid gif image")
    kept = [data[:screen_end]]
    control: int | None = None  # where the control for the next graphic block is in `kept`
    for block in gif_blocks(data):
        if block.end > len(data):
            raise CorruptImage("the source gif is truncated")
        if block.introducer == GIF_TRAILER:
            break
        if block.introducer not in (GIF_IMAGE, GIF_EXTENSION):
            raise CorruptImage("the source gif holds an unknown block")
        if block.introducer == GIF_IMAGE or not strip_metadata:
            control = None
        elif block.label == _GRAPHIC_CONTROL:
            control = len(kept)
        elif block.label == _PLAIN_TEXT:
            if control is not None:
                kept[control] = b""
            control = None
            continue
        elif block.label != _APPLICATION or not _is_loop(data, block.start):
            continue
        kept.append(data[block.start : block.end])
    kept.append(bytes((GIF_TRAILER,)))
    return b"".join(kept)


def _is_loop(data: bytes, start: int) -> bool:
    identifier = data[start + 2 : start + 14]
    return identifier in _LOOP_APPLICATIONS
