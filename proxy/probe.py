"""Identify a source image from its bytes and read its header, without decoding pixels.

`probe` is the gate between fetched bytes and any pixel work: it names the real format from
content (magic bytes, never a file name or a Content-Type), refuses formats pixgate does not
render (SVG, PDF, anything unknown) and refuses images too big to decode, all from the header
that libvips reads lazily. Nothing here decodes a pixel but `decode_all`, the full check.

It is also the one place that says what a refusal means to a client: a valid file coded in
a way this build cannot decode (12-bit or hierarchical JPEG, HEVC in HEIF without a
decoder) is `UnsupportedCoding` (415) naming the coding, and empty, truncated or damaged
bytes are `CorruptImage` (422), whether the header says so or the decoder (`decode_all`,
which the uploader runs on every upload and the proxy after a failed render).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pyvips

from proxy.errors import (
    CorruptImage,
    PixgateError,
    SourceTooLarge,
    TooLarge,
    Unprocessable,
    UnsupportedCoding,
    UnsupportedMedia,
)


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
    delays: tuple[int, ...] = ()  # ms per frame of an animation, as the file gives them
    loop: int = 0  # times an animation plays; 0 forever

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

    @property
    def duration_ms(self) -> int:
        """How long one pass of an animation lasts, as the file's delays say (0 for a still)."""
        return sum(self.delays[: self.pages]) if self.animated else 0


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
    does not read (SVG, PDF, unknown bytes), UnsupportedCoding for JPEG codings libjpeg does
    not decode (12-bit, hierarchical); CorruptImage for empty data or an unreadable header;
    SourceTooLarge for more pixels than `max_pixels`.

    The pixel limit counts what a render would decode: one frame's width x height times the
    number of frames decoded, i.e. `min(pages, max_frames)` (all pages when `max_frames` is
    None). A still counts one frame. This matches imgproxy's rule of summing the frames, but
    does not punish long animations of which only the first frames are ever decoded.
    """
    if not data:
        raise CorruptImage("the source is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge(f"the source is larger than {max_bytes} bytes")

    source_format = sniff(data)
    if source_format is None:
        raise UnsupportedMedia(_unsupported_message(data))
    if source_format is SourceFormat.JPEG:
        _check_jpeg_coding(data)
    if source_format is SourceFormat.GIF and gif_cut_short(data):
        # libvips would decode the frames that are there, the last one partly blank.
        raise CorruptImage("the source image is truncated")
    if source_format is SourceFormat.TIFF and tiff_directory_too_large(data):
        raise Unprocessable(
            f"the TIFF has a directory of more than {MAX_TIFF_DIRECTORY_ENTRIES} entries"
        )

    header = _read_header(data)
    loader = _get_str(header, "vips-loader")
    if loader not in _LOADERS[source_format]:
        raise CorruptImage(f"the source is not a valid {source_format.value} image")

    info = SourceInfo(
        format=source_format,
        width=int(header.width),
        height=_page_height(header),
        orientation=_orientation(header),
        has_alpha=bool(header.hasalpha()),
        pages=_get_int(header, "n-pages", 1) if source_format.animatable else 1,
        icc_profile=header.get_typeof("icc-profile-data") != 0,
        **_timing(header, source_format),
    )
    if info.width < 1 or info.height < 1:
        raise CorruptImage("the source has no pixels")

    frames = info.pages if max_frames is None else max(1, min(info.pages, max_frames))
    if info.width * info.height * frames > max_pixels:
        raise SourceTooLarge(
            f"the source is too large: {info.width}x{info.height}"
            + (f" x {frames} frames" if frames > 1 else "")
            + f" exceeds {max_pixels} pixels"
        )
    return info


GIF_TRAILER = 0x3B
GIF_EXTENSION = 0x21
GIF_IMAGE = 0x2C


@dataclass(frozen=True, slots=True)
class GifBlock:
    """One block of a GIF's stream after the logical screen: `introducer` is GIF_EXTENSION
    (with its `label`), GIF_IMAGE (descriptor, local colour table and data), GIF_TRAILER or
    any other byte, where the walk stops. `end` is past the data's end when it is cut short."""

    introducer: int
    label: int
    start: int
    end: int


def gif_screen_end(data: bytes) -> int:
    """Where the blocks start: after the header (6), the logical screen descriptor (7) and
    the global colour table; past the data's end when it is cut short."""
    if len(data) < 13:
        return len(data) + 1
    return 13 + _colour_table_size(data[10])


def gif_blocks(data: bytes) -> Iterator[GifBlock]:
    """The blocks of a GIF in order, up to the trailer, a byte that starts no block, the
    first block cut short, or the data's clean end. Reads lengths only; any bytes are safe."""
    size = len(data)
    position = gif_screen_end(data)
    while position < size:
        block = data[position]
        label = data[position + 1] if block == GIF_EXTENSION and position + 1 < size else 0
        if block == GIF_EXTENSION:  # label, then sub-blocks
            end = _skip_sub_blocks(data, position + 2)
        elif block == GIF_IMAGE:  # image descriptor (10), local colour table, LZW size (1)
            if position + 10 > size:
                end = size + 1
            else:
                end = _skip_sub_blocks(
                    data, position + 10 + _colour_table_size(data[position + 9]) + 1
                )
        else:  # the trailer, or a byte no block starts with
            yield GifBlock(block, 0, position, position + 1)
            return
        yield GifBlock(block, label, position, end)
        if end > size:
            return
        position = end


def gif_cut_short(data: bytes) -> bool:
    """Whether a GIF stops inside a block.

    libvips' GIF loader decodes a cut animation as fewer frames, the last one partly blank,
    without an error, so the block structure is walked here. Data ending cleanly between
    blocks without the trailer is let through, as browsers do: no frame is damaged.
    Anything else malformed is left to the decoder.
    """
    if gif_screen_end(data) > len(data):
        return True
    return any(block.end > len(data) for block in gif_blocks(data))


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
        if _decoder_missing(error):
            raise UnsupportedCoding(_coding_message(data)) from error
        raise CorruptImage("the source image header is unreadable or truncated") from error


# --- what a failure means ------------------------------------------------------------------

# libheif's and libjpeg's words for a coding this build has no decoder for.
_NO_DECODER = (
    "not been built in",
    "no decoding plugin",
    "unsupported codec",
    "omitted at compile time",
    "unsupported jpeg data precision",
    "unsupported jpeg process",
)


def decode_error(error: pyvips.Error, data: bytes) -> PixgateError:
    """What a libvips failure to decode `data`, which `probe` accepted, means to a client:
    UnsupportedCoding naming the coding when this build has no decoder for it (HEVC in
    HEIF with pyvips-binary), else CorruptImage (truncated or damaged past the header)."""
    if _decoder_missing(error):
        return UnsupportedCoding(_coding_message(data))
    return CorruptImage("the source image is truncated or corrupt")


# Size of the decode pass: small, so little is resized, but every input pixel is read. The
# uploader's ThumbHash is made from its result (ThumbHash takes at most 100 px a side).
_CHECK_SIZE = 64


def decode_all(data: bytes, info: SourceInfo, frames: int) -> Any:
    """Decode every pixel of the first `frames` frames of `data` (which `probe` read as
    `info`), at reduced size where the format shrinks on load; return the decoded image,
    at most _CHECK_SIZE pixels a side, in memory, with the loader's metadata (the uploader
    makes its placeholder from it). A failure is raised as `decode_error` names it. The
    uploader runs this on every upload; the proxy only after a render failed, to tell the
    source's fault from its own."""
    loader_options = "fail_on=truncated" + (f",n={frames}" if frames > 1 else "")
    try:
        if info.format in (SourceFormat.AVIF, SourceFormat.HEIF):
            # thumbnail would decode the embedded preview instead when there is one.
            image = pyvips.Image.new_from_buffer(data, loader_options)
            # Shrinking reads every pixel once; only the small result is kept.
            image = image.thumbnail_image(_CHECK_SIZE, size="down", no_rotate=True)
        else:
            # thumbnail's own fail_on does not reach the loader; the option string does.
            image = pyvips.Image.thumbnail_buffer(
                data, _CHECK_SIZE, size="down", no_rotate=True, option_string=loader_options
            )
        image = image.copy_memory()
    except pyvips.Error as error:
        raise decode_error(error, data) from error
    return image


def _decoder_missing(error: pyvips.Error) -> bool:
    detail = str(error).lower()
    return any(words in detail for words in _NO_DECODER)


def _coding_message(data: bytes) -> str:
    source_format = sniff(data)
    if source_format in (SourceFormat.HEIF, SourceFormat.AVIF):
        codec = heif_codec(data)
        if codec is None:
            return "this HEIF compression is not supported"
        return f"HEIF with {codec} compression is not supported"
    if source_format is SourceFormat.JPEG:
        marker, precision = jpeg_frame(data) or (0, 8)
        if marker in _JPEG_HIERARCHICAL:
            return "hierarchical JPEG is not supported"
        if precision != 8:
            return f"{precision}-bit JPEG is not supported"
        if marker == _JPEG_LOSSLESS_ARITHMETIC:
            return "arithmetic-coded lossless JPEG is not supported"
        return "this JPEG coding is not supported"
    name = source_format.name if source_format is not None else "image"
    return f"this {name} coding is not supported"


# --- JPEG frame header ---------------------------------------------------------------------

# Start-of-frame markers (C4 DHT, C8 JPG and CC DAC share the range but are not frames).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_HIERARCHICAL = frozenset({0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF})  # libjpeg has none
_JPEG_LOSSLESS_ARITHMETIC = 0xCB  # libjpeg-turbo decodes lossless Huffman, not this
_JPEG_LOSSLESS = frozenset({0xC3, _JPEG_LOSSLESS_ARITHMETIC})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def jpeg_frame(data: bytes) -> tuple[int, int] | None:
    """(marker, sample precision in bits) of the JPEG's frame header, read by walking the
    segments before the scan; None if there is none before the scan or the data's end."""
    size, position = len(data), 2
    while position + 4 <= size:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan
            return None
        if marker in _JPEG_SOF:
            return (marker, data[position + 4]) if position + 4 < size else None
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2:
            return None
        position += 2 + length
    return None


def _check_jpeg_coding(data: bytes) -> None:
    """Refuse, from the frame header, JPEG codings libjpeg-turbo's 8-bit decoding in
    libvips cannot decode although the file is valid: hierarchical frames and samples of
    another precision than 8 bits (12-bit medical and camera JPEGs, 16-bit lossless)."""
    frame = jpeg_frame(data)
    if frame is None:
        return  # no frame header before the scan: the header read below refuses it
    marker, precision = frame
    valid = range(2, 17) if marker in _JPEG_LOSSLESS else (8, 12)
    if precision not in valid:
        raise CorruptImage(f"the JPEG frame header gives an invalid precision of {precision}")
    if marker in _JPEG_HIERARCHICAL or precision != 8:
        raise UnsupportedCoding(_coding_message(data))


# --- HEIF items ----------------------------------------------------------------------------

# Item types of coded images in HEIF (ISO/IEC 23008-12) and AVIF, by the name users know.
_HEIF_CODECS = {
    b"hvc1": "HEVC",
    b"hev1": "HEVC",
    b"av01": "AV1",
    b"vvc1": "VVC",
    b"vvi1": "VVC",
    b"avc1": "AVC",
    b"j2k1": "JPEG 2000",
    b"jpeg": "JPEG",
    b"unci": "uncompressed",
}


def heif_codec(data: bytes) -> str | None:
    """The coding of the primary image of a HEIF/AVIF ("HEVC", "AV1", ...), from its item
    types in `meta/iinf`; for a derived primary image (a grid of tiles, as phones write)
    the coding of its first coded item. None if the boxes do not say.

    libvips' own `heif-compression` field only reflects the file's brand."""
    meta = _child_box(data, 0, len(data), b"meta")
    if meta is None:
        return None
    start, end = meta[0] + 4, meta[1]  # meta is a full box: version and flags first
    primary = _primary_item(data, start, end)
    types = _item_types(data, start, end)
    if primary in types and types[primary] in _HEIF_CODECS:
        return _HEIF_CODECS[types[primary]]
    coded = [_HEIF_CODECS[kind] for kind in types.values() if kind in _HEIF_CODECS]
    return coded[0] if coded else None


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of the ISOBMFF boxes between `start` and `end`."""
    end = min(end, len(data))
    while start + 8 <= end:
        size = int.from_bytes(data[start : start + 4], "big")
        kind, header = data[start + 4 : start + 8], 8
        if size == 1 and start + 16 <= end:
            size, header = int.from_bytes(data[start + 8 : start + 16], "big"), 16
        elif size == 0:
            size = end - start
        if size < header or start + size > end:
            return
        yield kind, start + header, start + size
        start += size


def _child_box(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, payload, payload_end in _boxes(data, start, end):
        if found == kind:
            return payload, payload_end
    return None


def _primary_item(data: bytes, start: int, end: int) -> int | None:
    pitm = _child_box(data, start, end, b"pitm")
    if pitm is None or pitm[1] - pitm[0] < 6:
        return None
    width = 4 if data[pitm[0]] >= 1 else 2
    return int.from_bytes(data[pitm[0] + 4 : pitm[0] + 4 + width], "big")


def _item_types(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """Item id -> item type of every `infe` (version 2 or 3) in `iinf`."""
    iinf = _child_box(data, start, end, b"iinf")
    if iinf is None or iinf[1] - iinf[0] < 6:
        return {}
    entries = iinf[0] + 4 + (4 if data[iinf[0]] >= 1 else 2)
    types: dict[int, bytes] = {}
    for kind, payload, payload_end in _boxes(data, entries, iinf[1]):
        version = data[payload] if payload < payload_end else 0
        if kind != b"infe" or version < 2:
            continue
        width = 4 if version >= 3 else 2
        at = payload + 4 + width + 2  # after version/flags, item id, protection index
        if at + 4 <= payload_end:
            item = int.from_bytes(data[payload + 4 : payload + 4 + width], "big")
            types[item] = data[at : at + 4]
    return types


def _page_height(header: Any) -> int:
    # Loaders open one page by default; page-height is set when they expose several.
    return _get_int(header, "page-height", int(header.height)) or int(header.height)


def _timing(header: Any, source_format: SourceFormat) -> dict[str, Any]:
    """Frame delays and loop count of an animation: the loaders read them for every frame
    from the header, before any pixel is decoded."""
    if not source_format.animatable or _get_int(header, "n-pages", 1) < 2:
        return {}
    delays: tuple[int, ...] = ()
    if header.get_typeof("delay") != 0:
        delays = tuple(max(0, int(delay)) for delay in header.get("delay"))
    return {"delays": delays, "loop": max(0, _get_int(header, "loop", 0))}


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
