"""What the image page shows of one image: its links, embed snippets and readable details.

Pure functions of an `ImageRecord` and a `UrlBuilder`; `templates/image.html` lays them out.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pixgate_signing import UrlBuilder
from pixgate_signing.direct import DIRECT_SIZES, SIZE_NAMES

from uploader.links import fitted_width, link_extension
from uploader.models import ImageRecord
from uploader.placeholder import (
    decode_thumbhash_text,
    placeholder_data_url,
    thumbhash_has_alpha,
)

# The slot the photo fills on the image page; app.css gives the same widths (content at most
# 1072 px; 24 px side padding from 720 px, 16 px below).
PHOTO_SIZES = (
    "(min-width: 1120px) 1072px, (min-width: 720px) calc(100vw - 48px), calc(100vw - 32px)"
)
# Embeds show the medium size; srcset lets high-density screens take the large one.
EMBED_BOX = DIRECT_SIZES["m"]
EMBED_SIZES = f"(max-width: {EMBED_BOX}px) 100vw, {EMBED_BOX}px"
_BY = " \N{MULTIPLICATION SIGN} "
FORMAT_NAMES: Mapping[str, str] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WebP",
    "avif": "AVIF",
    "heif": "HEIF",
}


@dataclass(frozen=True, slots=True)
class SizedLink:
    name: str  # small, medium, large
    url: str  # with the extension of the image's format
    width: int  # what the proxy really serves: never enlarged


@dataclass(frozen=True, slots=True)
class PageLinks:
    original: str  # /{id}.{ext}
    sizes: tuple[SizedLink, ...]
    photo: str  # /{id}_m: the format negotiated from the browser's Accept
    placeholder: str  # /{id}_t, negotiated too
    srcset: str  # /{id}_s, _m, _l (negotiated) by the width each really has


def page_links(urls: UrlBuilder, record: ImageRecord) -> PageLinks:
    ext = link_extension(record.format)
    sizes: list[SizedLink] = []
    srcset: dict[int, str] = {}
    for name, code in SIZE_NAMES.items():
        if name == "tiny":
            continue
        width = fitted_width(record.width, record.height, DIRECT_SIZES[code])
        sizes.append(SizedLink(name, urls.direct_url(record.image_id, size=name, ext=ext), width))
        # Sizes that come out the same width (a small original) appear once.
        srcset.setdefault(width, urls.direct_url(record.image_id, size=name))
    return PageLinks(
        original=urls.direct_url(record.image_id, ext=ext),
        sizes=tuple(sizes),
        photo=urls.direct_url(record.image_id, size="medium"),
        placeholder=urls.direct_url(record.image_id, size="tiny"),
        srcset=", ".join(f"{url} {width}w" for width, url in srcset.items()),
    )


@dataclass(frozen=True, slots=True)
class PagePlaceholder:
    """What the page paints before the photo's first byte. `colour` fills the photo's box as
    an inline SVG rectangle (a presentation attribute, so no inline style and nothing for
    the CSP to allow), unless the image has transparent parts; `src` is the ThumbHash drawn
    as a tiny PNG in a ``data:`` URL, or, for a row without a ThumbHash yet, the blurred
    `_t` link."""

    src: str
    colour: str | None  # "#rrggbb"


def page_placeholder(links: PageLinks, record: ImageRecord) -> PagePlaceholder:
    if record.thumbhash is None:
        return PagePlaceholder(links.placeholder, record.dominant_color)
    try:
        src = placeholder_data_url(record.thumbhash, record.width, record.height)
        transparent = thumbhash_has_alpha(decode_thumbhash_text(record.thumbhash))
    except ValueError:  # the row's CHECK makes this unreachable; a page must render anyway
        return PagePlaceholder(links.placeholder, record.dominant_color)
    # An image with transparent parts gets no solid box: its ThumbHash shows its shape.
    return PagePlaceholder(src, None if transparent else record.dominant_color)


def page_values(urls: UrlBuilder, record: ImageRecord, *, views: int = 0) -> dict[str, Any]:
    """Everything `templates/image.html` shows of `record` (viewed `views` times at the
    edge), by the names it uses."""
    links = page_links(urls, record)
    return {
        "record": record,
        "links": links,
        "placeholder": page_placeholder(links, record),
        "heading": record.title or "Untitled image",
        "alt": alt_text(record),
        "summary": summary(record),
        "photo_sizes": PHOTO_SIZES,
        "large_url": large_link(links),
        "embed_html": embed_html(links, record),
        "embed_markdown": embed_markdown(links, record),
        "embed_bbcode": embed_bbcode(links),
        "details": detail_rows(record, views),
        "camera": exif_rows(record.exif),
    }


def alt_text(record: ImageRecord) -> str:
    return record.title or "Uploaded image"


def embed_html(links: PageLinks, record: ImageRecord) -> str:
    """An `<img>` to paste into a page: negotiated format, srcset, room reserved."""
    width = fitted_width(record.width, record.height, EMBED_BOX)
    height = fitted_width(record.height, record.width, EMBED_BOX)
    return (
        f'<img src="{_attribute(links.photo)}" srcset="{_attribute(links.srcset)}" '
        f'sizes="{EMBED_SIZES}" width="{width}" height="{height}" '
        f'alt="{_attribute(alt_text(record))}" loading="lazy">'
    )


def embed_markdown(links: PageLinks, record: ImageRecord) -> str:
    text = " ".join(alt_text(record).split())
    for special in "\\[]":
        text = text.replace(special, "\\" + special)
    return f"![{text}]({_markdown_url(large_link(links))})"


def embed_bbcode(links: PageLinks) -> str:
    return f"[img]{large_link(links)}[/img]"


def human_bytes(size: int) -> str:
    """``20971520`` → ``20 MB`` (binary units, as app.js writes them)."""
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    digits = 0 if value >= 10 or value.is_integer() else 1
    return f"{value:.{digits}f} {unit}"


def format_name(image_format: str) -> str:
    return FORMAT_NAMES.get(image_format, image_format.upper())


def summary(record: ImageRecord) -> str:
    """One line under the title: dimensions, format, size, upload date."""
    parts = [
        f"{record.width}{_BY}{record.height}",
        format_name(record.format),
        human_bytes(record.size_bytes),
    ]
    if record.uploaded_at is not None:
        parts.append(f"uploaded {record.uploaded_at:%-d %b %Y}")
    return " · ".join(parts)


def views_text(views: int) -> str:
    return "1 view" if views == 1 else f"{views:,} views"


def detail_rows(record: ImageRecord, views: int = 0) -> list[tuple[str, str]]:
    rows = [
        ("Views", views_text(views)),
        ("Dimensions", f"{record.width}{_BY}{record.height} px"),
        ("Format", format_name(record.format)),
        ("File size", human_bytes(record.size_bytes)),
    ]
    if record.uploaded_at is not None:
        rows.append(("Uploaded", f"{record.uploaded_at:%-d %b %Y, %H:%M} UTC"))
    return rows


def exif_rows(exif: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Decoded EXIF (see uploader/exif.py) as readable rows; absent values are left out,
    and the location only appears when the server kept GPS coordinates."""
    rows: list[tuple[str, str]] = []
    if camera := _camera(exif.get("camera_make"), exif.get("camera_model")):
        rows.append(("Camera", camera))
    for key, label in (
        ("lens", "Lens"),
        ("iso", "ISO"),
        ("aperture", "Aperture"),
        ("shutter_speed", "Shutter speed"),
        ("focal_length", "Focal length"),
    ):
        if exif.get(key) not in (None, ""):
            rows.append((label, str(exif[key])))
    if taken := exif.get("date_taken"):
        rows.append(("Taken", _date(str(taken))))
    gps = exif.get("gps")
    if isinstance(gps, Mapping) and "latitude" in gps and "longitude" in gps:
        rows.append(("Location", f"{float(gps['latitude']):.6f}, {float(gps['longitude']):.6f}"))
    return rows


def _camera(make: Any, model: Any) -> str:
    make_text, model_text = str(make or "").strip(), str(model or "").strip()
    # Many makers repeat their name in the model ("Canon" + "Canon EOS R5").
    if make_text and model_text.lower().startswith(make_text.lower()):
        return model_text
    return " ".join(part for part in (make_text, model_text) if part)


def _date(value: str) -> str:
    try:
        taken = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{taken:%-d %b %Y, %H:%M}"


def large_link(links: PageLinks) -> str:
    """The large size's link (with extension): for Markdown, BBCode and link previews."""
    return next(link.url for link in links.sizes if link.name == "large")


def _attribute(value: str) -> str:
    return html.escape(value, quote=True)


def _markdown_url(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
