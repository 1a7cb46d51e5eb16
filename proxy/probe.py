"""Identify a source image from its bytes and read its header, without decoding pixels.

`probe` is the gate between fetched bytes and any pixel work: it names the real format from
content (magic bytes, never a file name or a Content-Type), refuses formats pixgate does not
render (SVG, PDF, anything unknown) and refuses images too big to decode, all from the header
that libvips reads lazily. Nothing here decodes a pixel.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal

import pyvips

from proxy.errors import TooLarge, Unprocessable, UnsupportedMedia


class SourceFormat(enum.Enum):
    """Formats pixgate reads. HEIF means the HEVC flavour; AVIF is AV1 in the same container."""

    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"
    AVIF = "avif"
    HEIF = "heif"
    TIFF = "tiff"

    @property
    def animatable(self) -> bool:
        """Whether pages of this format are frames of an animation (not TIFF/HEIF pages)."""
        return self in (SourceFormat.GIF, SourceFormat.WEBP)


# EXIF orientations 5-8 swap the stored width and height.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a header tells about a source.

    `width`/`height` are those of one page (frame), as stored, before EXIF orientation.
    `pages` counts animation frames of GIF/WebP; it is 1 for stills and for multi-page
    TIFF/HEIF, of which only the first (primary) image is ever rendered. `icc_profile` says
    an ICC profile is embedded: its pixels need a transform to come out as sRGB.
    """

    format: SourceFormat
    width: int
    height: int
    orientation: int = 1
    has_alpha: bool = False
    pages: int = 1
    icc_profile: bool = False

    @property
    def oriented_width(self) -> int:
        """Width once the EXIF orientation is applied."""
        return self.height if self.orientation in _TRANSPOSING_ORIENTATIONS else self.width

    @property
    def oriented_height(self) -> int:
        """Height once the EXIF orientation is applied."""
        return self.width if self.orientation in _TRANSPOSING_ORIENTATIONS else self.height

    @property
    def animated(self) -> bool:
        return self.pages > 1


# libvips' loader for each format; a mismatch means the bytes only look like the format.
_LOADERS: dict[SourceFormat, frozenset[str]] = {
    SourceFormat.JPEG: frozenset({"jpegload_buffer", "uhdrload_buffer"}),
    SourceFormat.PNG: frozenset({"pngload_buffer"}),
    SourceFormat.GIF: frozenset({"gifload_buffer"}),
    SourceFormat.WEBP: frozenset({"webpload_buffer"}),
    SourceFormat.AVIF: frozenset({"heifload_buffer"}),
    SourceFormat.HEIF: frozenset({"heifload_buffer"}),
    SourceFormat.TIFF: frozenset({"tiffload_buffer"}),
}

_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})


def sniff(data: bytes) -> SourceFormat | None:
    """The format named by the leading bytes of `data`, or None if it is not one we read."""
    if data.startswith(b"\xff\xd8\xff"):
        return SourceFormat.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return SourceFormat.PNG
    if data.startswith((b"GIF87a", b"GIF89a")):
        return SourceFormat.GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return SourceFormat.WEBP
    if data.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return SourceFormat.TIFF
    if data[4:8] == b"ftyp":
        return _sniff_isobmff(data)
    return None


def _sniff_isobmff(data: bytes) -> SourceFormat | None:
    """AVIF or HEIF from the major and compatible brands of the `ftyp` box."""
    box_size = int.from_bytes(data[0:4], "big")
    major = data[8:12]
    # Compatible brands follow the major brand and its 4-byte minor version.
    end = min(len(data), box_size if 16 <= box_size <= 4096 else 16)
    brands = {major, *(data[i : i + 4] for i in range(16, end - 3, 4))}
    if brands & _AVIF_BRANDS:
        return SourceFormat.AVIF
    if brands & _HEIF_BRANDS:
        return SourceFormat.HEIF
    return None


def _unsupported_message(data: bytes) -> str:
    head = data[:1024].lstrip().lower()
    if head.startswith(b"%pdf"):
        return "PDF sources are not supported"
    if b"<svg" in head:
        return "SVG sources are not supported"
    return "unsupported or unrecognised image format"


def probe(
    data: bytes,
    *,
    max_pixels: int,
    max_bytes: int | None = None,
    max_frames: int | None = None,
) -> SourceInfo:
    """Identify `data` and read its header.

    Raises TooLarge if `data` is longer than `max_bytes`; UnsupportedMedia for formats pixgate
    does not read (SVG, PDF, unknown bytes); Unprocessable for empty data, an unreadable
    header, or more pixels than `max_pixels`.

    The pixel limit counts what a render would decode: one frame's width x height times the
    number of frames decoded, i.e. `min(pages, max_frames)` (all pages when `max_frames` is
    None). A still counts one frame. This matches imgproxy's rule of summing the frames, but
    does not punish long animations of which only the first frames are ever decoded.
    """
    if not data:
        raise Unprocessable("the source is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge(f"the source is larger than {max_bytes} bytes")

    source_format = sniff(data)
    if source_format is None:
        raise UnsupportedMedia(_unsupported_message(data))
    if source_format is SourceFormat.GIF and gif_cut_short(data):
        # libvips would decode the frames that are there, the last one partly blank.
        raise Unprocessable("the source image is truncated", code="corrupt_image")
    if source_format is SourceFormat.TIFF and tiff_directory_too_large(data):
        raise Unprocessable(
            f"the TIFF has a directory of more than {MAX_TIFF_DIRECTORY_ENTRIES} entries"
        )

    header = _read_header(data)
    loader = _get_str(header, "vips-loader")
    if loader not in _LOADERS[source_format]:
        raise Unprocessable(f"the source is not a valid {source_format.value} image")

    info = SourceInfo(
        format=source_format,
        width=int(header.width),
        height=_page_height(header),
        orientation=_orientation(header),
        has_alpha=bool(header.hasalpha()),
        pages=_get_int(header, "n-pages", 1) if source_format.animatable else 1,
        icc_profile=header.get_typeof("icc-profile-data") != 0,
    )
    if info.width < 1 or info.height < 1:
        raise Unprocessable("the source has no pixels")

    frames = info.pages if max_frames is None else max(1, min(info.pages, max_frames))
    if info.width * info.height * frames > max_pixels:
        raise Unprocessable(
            f"the source is too large: {info.width}x{info.height}"
            + (f" x {frames} frames" if frames > 1 else "")
            + f" exceeds {max_pixels} pixels",
            code="source_too_large",
        )
    return info


def gif_cut_short(data: bytes) -> bool:
    """Whether a GIF stops inside a block.

    libvips' GIF loader decodes a cut animation as fewer frames, the last one partly blank,
    without an error, so the block structure is walked here. Data ending cleanly between
    blocks without the trailer is let through, as browsers do: no frame is damaged.
    Anything else malformed is left to the decoder.
    """
    size = len(data)
    position = 13  # header (6) and logical screen descriptor (7)
    if size < position:
        return True
    position += _colour_table_size(data[10])
    while position < size:
        block = data[position]
        if block == 0x3B:  # trailer
            return False
        if block == 0x21:  # extension: label, then sub-blocks
            position = _skip_sub_blocks(data, position + 2)
        elif block == 0x2C:  # image descriptor (10), local colour table, LZW code size (1)
            if position + 10 > size:
                return True
            position += 10 + _colour_table_size(data[position + 9]) + 1
            position = _skip_sub_blocks(data, position)
        else:
            return False
        if position > size:
            return True
    return position > size


def _colour_table_size(packed: int) -> int:
    return 3 * 2 ** ((packed & 0x07) + 1) if packed & 0x80 else 0


def _skip_sub_blocks(data: bytes, position: int) -> int:
    """Position after the sub-blocks starting at `position`; past the end if cut short."""
    size = len(data)
    while position < size:
        length = data[position]
        position += 1 + length
        if length == 0:
            return position
    return size + 1


# Real TIFFs have a few dozen tags per directory. libtiff accepts up to 4096 and registers
# each unknown one at a cost that grows with the square of their number (seconds of CPU
# per read for a 48 KB file), and libvips reads every page's directory.
MAX_TIFF_DIRECTORY_ENTRIES = 1024
_MAX_TIFF_DIRECTORIES = 65536


def tiff_directory_too_large(data: bytes) -> bool:
    """Whether a directory (IFD) in the TIFF's page chain declares more entries than
    MAX_TIFF_DIRECTORY_ENTRIES. Reads counts and offsets only; a chain that leaves the
    data, loops or goes on too long is left to libtiff, which refuses those itself."""
    big = data[2:4] in (b"+\x00", b"\x00+")
    order: Literal["little", "big"] = "little" if data[:2] == b"II" else "big"
    count_size, entry_size, offset_size = (8, 20, 8) if big else (2, 12, 4)
    first = 8 if big else 4
    offset = int.from_bytes(data[first : first + offset_size], order)
    seen: set[int] = set()
    while offset > 0 and offset + count_size <= len(data) and offset not in seen:
        if len(seen) >= _MAX_TIFF_DIRECTORIES:
            return False
        seen.add(offset)
        entries = int.from_bytes(data[offset : offset + count_size], order)
        if entries > MAX_TIFF_DIRECTORY_ENTRIES:
            return True
        next_at = offset + count_size + entries * entry_size
        offset = int.from_bytes(data[next_at : next_at + offset_size], order)
    return False


def _read_header(data: bytes) -> Any:
    """The lazily loaded image: libvips parses the header here and decodes nothing."""
    try:
        return pyvips.Image.new_from_buffer(data, "")
    except pyvips.Error as error:
        raise Unprocessable("the source image header is unreadable or truncated") from error


def _page_height(header: Any) -> int:
    # Loaders open one page by default; page-height is set when they expose several.
    return _get_int(header, "page-height", int(header.height)) or int(header.height)


def _orientation(header: Any) -> int:
    orientation = _get_int(header, "orientation", 1)
    return orientation if 1 <= orientation <= 8 else 1


def _get_int(image: Any, name: str, default: int) -> int:
    if image.get_typeof(name) == 0:
        return default
    try:
        return int(image.get(name))
    except (TypeError, ValueError, pyvips.Error):
        return default


def _get_str(image: Any, name: str) -> str:
    if image.get_typeof(name) == 0:
        return ""
    return str(image.get(name))
