"""The links an upload answers with: direct links by size, and a srcset with real widths."""

from __future__ import annotations

import math

from pixgate_signing import UrlBuilder
from pixgate_signing.direct import DIRECT_SIZES, SIZE_NAMES

from uploader.models import ImageRecord

# Browsers cannot show HEIC, so its links ask for JPEG.
_EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "avif": "avif"}


def link_extension(image_format: str) -> str:
    return _EXTENSIONS.get(image_format, "jpg")


def fitted_width(width: int, height: int, box: int) -> int:
    """Width of a `width`x`height` image fitted into a `box`x`box` square, never enlarged."""
    scale = min(box / width, box / height, 1.0)
    # Half up, as libvips rounds the output size (Python's round() goes half to even).
    return max(1, math.floor(width * scale + 0.5))


def image_links(urls: UrlBuilder, record: ImageRecord) -> dict[str, str]:
    ext = link_extension(record.format)
    links = {"original": urls.direct_url(record.image_id, ext=ext)}
    for name in SIZE_NAMES:
        links[name] = urls.direct_url(record.image_id, size=name, ext=ext)
    return links


def image_srcset(urls: UrlBuilder, record: ImageRecord) -> str:
    """small, medium and large by the width each really has (sizes that would come out
    the same width, because the original is small, appear once)."""
    ext = link_extension(record.format)
    entries: dict[int, str] = {}
    for name, code in SIZE_NAMES.items():
        if name == "tiny":
            continue
        width = fitted_width(record.width, record.height, DIRECT_SIZES[code])
        entries.setdefault(width, urls.direct_url(record.image_id, size=name, ext=ext))
    return ", ".join(f"{url} {width}w" for width, url in entries.items())
