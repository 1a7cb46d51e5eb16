"""Check an upload before it is stored: what it really is, that it decodes, and its EXIF.

The content decides, never the file name or the declared type. `proxy.probe` names the format
and checks the pixel budget from the header; then one pass decodes every pixel the proxy will
ever render (at reduced size where the format allows: JPEG and WebP shrink on load) so a
truncated or corrupt file is refused now rather than failing on each later request.
Blocking: the upload service runs `inspect_upload` in its executor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from proxy.errors import PixgateError, UnsupportedCoding, UnsupportedMedia
from proxy.probe import SourceFormat, decode_all, probe, sniff
from uploader.exif import decode_exif

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


@dataclass(frozen=True, slots=True)
class Inspected:
    """What an accepted upload is. `width`/`height` are as displayed, after the EXIF
    orientation, and those of one frame; `pages` counts animation frames (1 for a still)."""

    format: str  # jpeg, png, gif, webp, avif, heif
    width: int
    height: int
    pages: int = 1
    exif: dict[str, Any] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def inspect_upload(
    data: bytes, *, max_pixels: int, keep_gps: bool, max_frames: int | None = None
) -> Inspected:
    """Identify, validate and describe an upload.

    Raises UnsupportedMedia (415) for anything but JPEG, PNG, GIF, WebP, AVIF and HEIC, and
    for codings this libvips cannot decode (HEVC without a decoder, 12-bit JPEG), naming
    them; CorruptImage (422) for empty, unreadable, truncated or corrupt data; and
    SourceTooLarge (422) for more pixels than `max_pixels`, counted as `proxy.probe.probe`
    does with `max_frames` (pass the proxy's frame limit, so what is accepted here can be
    rendered there). The probe decides every one of these, as it does for the proxy.
    """
    if sniff(data) is SourceFormat.TIFF:  # refused before any TIFF parser sees it
        raise UnsupportedMedia(f"TIFF images are not accepted: {_ACCEPTED_HINT}")
    try:
        info = probe(data, max_pixels=max_pixels, max_frames=max_frames)
    except UnsupportedCoding as error:
        raise UnsupportedCoding(f"{error.message}: {_CODING_HINT}") from error
    except UnsupportedMedia as error:
        raise UnsupportedMedia(f"{error.message}: {_ACCEPTED_HINT}") from error
    if info.format not in ACCEPTED_FORMATS:
        raise UnsupportedMedia(f"{info.format.name} images are not accepted: {_ACCEPTED_HINT}")

    frames = info.pages if max_frames is None else max(1, min(info.pages, max_frames))
    try:
        decoded = decode_all(data, info, frames)
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
    )
