"""probe: real format from content, header facts, refusals before any decode."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import pytest
import pyvips
from hypothesis import given, settings
from hypothesis import strategies as st

from loadtest.harness import imagegen
from proxy.errors import (
    CorruptImage,
    PixgateError,
    TooLarge,
    Unprocessable,
    UnsupportedCoding,
    UnsupportedMedia,
)
from proxy.probe import (
    SourceFormat,
    SourceInfo,
    decode_all,
    decode_error,
    heif_codec,
    jpeg_frame,
    probe,
    sniff,
    tiff_directory_too_large,
)
from tests import codings, hostile

MAX = 50_000_000


def _alpha_avif() -> bytes:
    return imagegen.avif(imagegen.alpha_image(40, 30))


def _avif() -> bytes:
    return imagegen.avif(imagegen.quadrants(40, 30))


def _webp_still() -> bytes:
    return imagegen.webp(imagegen.quadrants(40, 30))


JPEG, PNG, GIF, WEBP, TIFF, AVIF = (
    SourceFormat.JPEG,
    SourceFormat.PNG,
    SourceFormat.GIF,
    SourceFormat.WEBP,
    SourceFormat.TIFF,
    SourceFormat.AVIF,
)

# factory -> expected header facts (stored size, before orientation)
FORMAT_CASES: dict[str, tuple[Callable[[], bytes], SourceInfo]] = {
    "jpeg": (partial(imagegen.quadrant_jpeg, 40, 30), SourceInfo(JPEG, 40, 30)),
    "jpeg-exif-6": (partial(imagegen.oriented_jpeg, 40, 30, 6), SourceInfo(JPEG, 30, 40, 6)),
    "jpeg-exif-3": (partial(imagegen.oriented_jpeg, 40, 30, 3), SourceInfo(JPEG, 40, 30, 3)),
    "jpeg-cmyk-icc": (
        partial(imagegen.cmyk_jpeg, 40, 30, icc=True),
        SourceInfo(JPEG, 40, 30, icc_profile=True),
    ),
    "jpeg-p3": (
        partial(imagegen.p3_jpeg, 40, 30, imagegen.GREEN),
        SourceInfo(JPEG, 40, 30, icc_profile=True),
    ),
    "jpeg-cmyk-no-icc": (partial(imagegen.cmyk_jpeg, 40, 30, icc=False), SourceInfo(JPEG, 40, 30)),
    "png-alpha": (partial(imagegen.alpha_png, 40, 30), SourceInfo(PNG, 40, 30, has_alpha=True)),
    "png-16-bit": (partial(imagegen.png16, 40, 30), SourceInfo(PNG, 40, 30)),
    "gif-still": (partial(imagegen.still_gif, 40, 30), SourceInfo(GIF, 40, 30, has_alpha=True)),
    "gif-animated": (
        partial(imagegen.animated_gif, 40, 30, 5),
        SourceInfo(GIF, 40, 30, has_alpha=True, pages=5, delays=(100,) * 5),
    ),
    "webp-still": (_webp_still, SourceInfo(WEBP, 40, 30)),
    "webp-animated": (
        partial(imagegen.animated_webp, 40, 30, 3),
        SourceInfo(WEBP, 40, 30, pages=3, delays=(100,) * 3),
    ),
    "tiff": (partial(imagegen.tiff, 40, 30), SourceInfo(TIFF, 40, 30)),
    "avif": (_avif, SourceInfo(AVIF, 40, 30)),
    "avif-alpha": (_alpha_avif, SourceInfo(AVIF, 40, 30, has_alpha=True)),
}


@pytest.mark.parametrize(("make", "expected"), FORMAT_CASES.values(), ids=FORMAT_CASES.keys())
def test_probe_reads_the_header(make: Callable[[], bytes], expected: SourceInfo) -> None:
    assert probe(make(), max_pixels=MAX) == expected


ORIENTED_CASES = {
    "none": (1, (40, 30)),
    "flip": (2, (40, 30)),
    "rotate-180": (3, (40, 30)),
    "transpose": (5, (30, 40)),
    "rotate-90": (6, (30, 40)),
    "transverse": (7, (30, 40)),
    "rotate-270": (8, (30, 40)),
}


@pytest.mark.parametrize(
    ("orientation", "oriented"), ORIENTED_CASES.values(), ids=ORIENTED_CASES.keys()
)
def test_oriented_size(orientation: int, oriented: tuple[int, int]) -> None:
    info = SourceInfo(SourceFormat.JPEG, 40, 30, orientation)
    assert (info.oriented_width, info.oriented_height) == oriented


UNSUPPORTED_CASES: dict[str, Callable[[], bytes]] = {
    "svg": imagegen.svg,
    "svg-with-xml-prolog": lambda: b'<?xml version="1.0"?>\n' + imagegen.svg(),
    "pdf": imagegen.pdf,
    "text-named-jpg": imagegen.text_named_as_image,
    "mp4-ftyp": lambda: b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 32,
    "bmp": lambda: b"BM" + b"\x00" * 60,
    "html": lambda: b"<!doctype html><html><body>hello</body></html>",
}


@pytest.mark.parametrize("make", UNSUPPORTED_CASES.values(), ids=UNSUPPORTED_CASES.keys())
def test_unsupported_formats_are_415(make: Callable[[], bytes]) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        probe(make(), max_pixels=MAX)
    assert caught.value.status == 415


def test_svg_and_pdf_are_named() -> None:
    with pytest.raises(UnsupportedMedia, match="SVG"):
        probe(imagegen.svg(), max_pixels=MAX)
    with pytest.raises(UnsupportedMedia, match="PDF"):
        probe(imagegen.pdf(), max_pixels=MAX)


UNPROCESSABLE_CASES: dict[str, Callable[[], bytes]] = {
    "zero-bytes": lambda: imagegen.ZERO_BYTES,
    "jpeg-magic-only": lambda: b"\xff\xd8\xff",
    "jpeg-header-cut": lambda: imagegen.quadrant_jpeg(40, 30)[:40],
    "png-header-cut": lambda: imagegen.alpha_png(40, 30)[:30],
    "gif-header-cut": lambda: imagegen.animated_gif(40, 30)[:12],
    "webp-header-cut": lambda: _webp_still()[:20],
    "tiff-cut": lambda: imagegen.truncated(imagegen.tiff(40, 30), 0.5),
    "avif-cut": lambda: _avif()[:40],
    "heic-brand-garbage-body": lambda: (
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    ),
    "png-magic-then-garbage": lambda: b"\x89PNG\r\n\x1a\n" + b"garbage" * 10,
}


@pytest.mark.parametrize("make", UNPROCESSABLE_CASES.values(), ids=UNPROCESSABLE_CASES.keys())
def test_unreadable_sources_are_422(make: Callable[[], bytes]) -> None:
    with pytest.raises(CorruptImage) as caught:
        probe(make(), max_pixels=MAX)
    assert (caught.value.status, caught.value.code) == (422, "corrupt_image")


# factory -> the message, which names the coding
CODING_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "jpeg-12-bit": (codings.twelve_bit_jpeg, "12-bit JPEG is not supported"),
    "jpeg-12-bit-sof0": (
        partial(codings.jpeg_with_frame, codings.SOF0, 12),
        "12-bit JPEG is not supported",
    ),
    "jpeg-lossless-16-bit": (
        partial(codings.jpeg_with_frame, 0xC3, 16),
        "16-bit JPEG is not supported",
    ),
    "jpeg-hierarchical": (codings.hierarchical_jpeg, "hierarchical JPEG is not supported"),
}


@pytest.mark.parametrize(("make", "message"), CODING_CASES.values(), ids=CODING_CASES.keys())
def test_codings_libjpeg_cannot_decode_are_415_from_the_header(
    make: Callable[[], bytes], message: str
) -> None:
    with pytest.raises(UnsupportedCoding) as caught:
        probe(make(), max_pixels=MAX)
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        415,
        "unsupported_format",
        message,
    )


def test_an_impossible_jpeg_precision_is_corrupt() -> None:
    with pytest.raises(CorruptImage, match="invalid precision of 16"):
        probe(codings.jpeg_with_frame(codings.SOF1, 16), max_pixels=MAX)


JPEG_FRAME_CASES = {
    "baseline": (lambda: imagegen.quadrant_jpeg(40, 30), (0xC0, 8)),
    "progressive": (
        lambda: bytes(imagegen.quadrants(40, 30).jpegsave_buffer(interlace=True)),
        (0xC2, 8),
    ),
    "12-bit": (codings.twelve_bit_jpeg, (0xC1, 12)),
    "fill-bytes-before-a-marker": (
        lambda: b"\xff\xd8\xff\xff\xff" + imagegen.quadrant_jpeg(40, 30)[3:],
        (0xC0, 8),
    ),
    "cut-before-the-frame": (lambda: imagegen.quadrant_jpeg(40, 30)[:40], None),
    "scan-without-frame": (lambda: b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 16, None),
    "zero-length-segment": (lambda: b"\xff\xd8\xff\xe0\x00\x00" + b"\x00" * 16, None),
}


@pytest.mark.parametrize(("make", "frame"), JPEG_FRAME_CASES.values(), ids=JPEG_FRAME_CASES.keys())
def test_jpeg_frame(make: Callable[[], bytes], frame: tuple[int, int] | None) -> None:
    assert jpeg_frame(make()) == frame


HEIF_CODEC_CASES = {
    "avif-from-libvips": (_avif, "AV1"),
    "heic-hevc-item": (codings.hevc_heic, "HEVC"),
    # libvips' heif-compression field follows the brand; the item type tells the truth.
    "hevc-item-under-an-avif-brand": (
        lambda: codings.hevc_heic().replace(b"ftypheic", b"ftypavif"),
        "HEVC",
    ),
    "av1-item-under-a-heic-brand": (lambda: _avif().replace(b"ftypavif", b"ftypheic"), "AV1"),
    "no-meta-box": (lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", None),
    "meta-cut-short": (lambda: codings.hevc_heic()[:60], None),
}


@pytest.mark.parametrize(("make", "codec"), HEIF_CODEC_CASES.values(), ids=HEIF_CODEC_CASES.keys())
def test_heif_codec_from_the_item_types(make: Callable[[], bytes], codec: str | None) -> None:
    assert heif_codec(make()) == codec


def test_hevc_heic_passes_the_header_and_is_415_at_decode_without_a_decoder() -> None:
    """libvips reads an HEVC item's header without any HEVC decoder; the decode that would
    follow fails before any pixel, and that failure is named, not called corruption."""
    data = codings.hevc_heic()
    assert probe(data, max_pixels=MAX) == SourceInfo(SourceFormat.HEIF, 40, 30)
    try:
        pyvips.Image.new_from_buffer(data, "").avg()
    except pyvips.Error as error:
        refusal = decode_error(error, data)
    else:
        pytest.skip("this libvips decodes HEVC")
    assert isinstance(refusal, UnsupportedCoding)
    assert refusal.message == "HEIF with HEVC compression is not supported"


def test_arithmetic_coded_lossless_jpeg_is_415_at_decode() -> None:
    """The header of SOF11 reads; libjpeg-turbo lacks the decoder and says so at decode."""
    data = codings.jpeg_with_frame(0xCB, 8)
    assert probe(data, max_pixels=MAX).format is SourceFormat.JPEG
    with pytest.raises(pyvips.Error) as caught:
        pyvips.Image.new_from_buffer(data, "").avg()
    refusal = decode_error(caught.value, data)
    assert isinstance(refusal, UnsupportedCoding)
    assert refusal.message == "arithmetic-coded lossless JPEG is not supported"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: imagegen.truncated(imagegen.quadrant_jpeg(400, 300)), id="jpeg"),
        pytest.param(
            lambda: imagegen.truncated(imagegen.png(imagegen.detail_on_right(400, 300))), id="png"
        ),
    ],
)
def test_damage_past_the_header_is_corrupt_at_decode(make: Callable[[], bytes]) -> None:
    data = make()
    info = probe(data, max_pixels=MAX)
    with pytest.raises(CorruptImage, match="the source image is truncated or corrupt"):
        decode_all(data, info, 1)


def test_decode_all_returns_the_decoded_image() -> None:
    data = imagegen.animated_gif(40, 30, 5)
    decoded = decode_all(data, probe(data, max_pixels=MAX), 3)
    assert decoded.get("n-pages") == 5
    assert decoded.height == 3 * decoded.get("page-height")


@pytest.mark.parametrize(
    ("make", "refused"),
    [
        pytest.param(lambda: imagegen.tiff(40, 30), False, id="plain"),
        pytest.param(lambda: hostile.tiff_many_tags(1024 - 15), False, id="1024-entries"),
        pytest.param(lambda: hostile.tiff_many_tags(1025 - 15), True, id="1025-entries"),
        pytest.param(lambda: hostile.tiff_many_tags(2000, page=2), True, id="on-page-2"),
        pytest.param(hostile.tiff_directory_claiming, True, id="count-without-entries"),
        pytest.param(hostile.bigtiff_huge_ifd, True, id="bigtiff-64-bit-count"),
    ],
)
def test_tiff_directories_are_bounded_before_libtiff_reads_them(
    make: Callable[[], bytes], refused: bool
) -> None:
    data = make()
    assert tiff_directory_too_large(data) is refused
    if refused:
        with pytest.raises(Unprocessable, match="more than 1024 entries"):
            probe(data, max_pixels=MAX)


def test_cut_gif_is_refused_before_decoding() -> None:
    data = imagegen.animated_gif(40, 30, 3)
    assert probe(data, max_pixels=MAX).pages == 3
    with pytest.raises(Unprocessable) as caught:
        probe(data[: len(data) // 2], max_pixels=MAX)
    assert caught.value.code == "corrupt_image"


def test_truncated_body_passes_probe_header_only() -> None:
    # The header is intact: probe says yes, render (which decodes) says 422.
    data = imagegen.truncated(imagegen.quadrant_jpeg(400, 300), 0.5)
    assert probe(data, max_pixels=MAX).format is SourceFormat.JPEG


def test_max_bytes() -> None:
    data = imagegen.quadrant_jpeg(40, 30)
    assert probe(data, max_pixels=MAX, max_bytes=len(data)).width == 40
    with pytest.raises(TooLarge):
        probe(data, max_pixels=MAX, max_bytes=len(data) - 1)


PIXEL_LIMIT_CASES = {
    "still-at-limit": (lambda: imagegen.quadrant_jpeg(40, 30), 1200, None, True),
    "still-over-limit": (lambda: imagegen.quadrant_jpeg(40, 30), 1199, None, False),
    "animation-counts-all-frames": (lambda: imagegen.animated_gif(10, 10, 5), 499, None, False),
    "animation-all-frames-fit": (lambda: imagegen.animated_gif(10, 10, 5), 500, None, True),
    "animation-counts-decoded-frames": (lambda: imagegen.animated_gif(10, 10, 5), 200, 2, True),
    "animation-decoded-frames-over": (lambda: imagegen.animated_gif(10, 10, 5), 199, 2, False),
    "animation-frame-alone-too-big": (lambda: imagegen.animated_gif(10, 10, 5), 99, 1, False),
}


@pytest.mark.parametrize(
    ("make", "max_pixels", "max_frames", "ok"),
    PIXEL_LIMIT_CASES.values(),
    ids=PIXEL_LIMIT_CASES.keys(),
)
def test_pixel_limit(
    make: Callable[[], bytes], max_pixels: int, max_frames: int | None, ok: bool
) -> None:
    data = make()
    if ok:
        probe(data, max_pixels=max_pixels, max_frames=max_frames)
        return
    with pytest.raises(Unprocessable) as caught:
        probe(data, max_pixels=max_pixels, max_frames=max_frames)
    assert caught.value.code == "source_too_large"


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose SOF header claims another size: decoding it would fail or take
    forever, so only a header-only check can answer quickly."""
    data = bytearray(imagegen.quadrant_jpeg(16, 16))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    data[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def test_pixel_bomb_rejected_from_header_without_decoding() -> None:
    bomb = _jpeg_claiming(60_000, 60_000)
    started = time.perf_counter()
    with pytest.raises(Unprocessable, match="60000x60000"):
        probe(bomb, max_pixels=MAX)
    assert time.perf_counter() - started < 2.0  # decoding it would take minutes and gigabytes


SNIFF_CASES = {
    "jpeg": (b"\xff\xd8\xff\xe0", SourceFormat.JPEG),
    "png": (b"\x89PNG\r\n\x1a\n", SourceFormat.PNG),
    "gif87": (b"GIF87a", SourceFormat.GIF),
    "gif89": (b"GIF89a", SourceFormat.GIF),
    "webp": (b"RIFF\x00\x00\x00\x00WEBPVP8 ", SourceFormat.WEBP),
    "riff-wave-is-not-webp": (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
    "tiff-le": (b"II*\x00", SourceFormat.TIFF),
    "tiff-be": (b"MM\x00*", SourceFormat.TIFF),
    "bigtiff": (b"II+\x00", SourceFormat.TIFF),
    "avif-major": (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00mif1miaf", SourceFormat.AVIF),
    "avif-sequence": (b"\x00\x00\x00\x1cftypavis\x00\x00\x00\x00msf1miaf", SourceFormat.AVIF),
    "avif-compatible": (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00avifmiaf", SourceFormat.AVIF),
    "heic-major": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", SourceFormat.HEIF),
    "heif-mif1-only": (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", SourceFormat.HEIF),
    "mp4": (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", None),
    "svg": (b"<svg", None),
    "empty": (b"", None),
}  # fmt: skip


@pytest.mark.parametrize(("head", "fmt"), SNIFF_CASES.values(), ids=SNIFF_CASES.keys())
def test_sniff(head: bytes, fmt: SourceFormat | None) -> None:
    assert sniff(head + b"\x00" * 16) is fmt


MAGICS = [b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP"]
MAGICS += [b"II*\x00", b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif"]


@settings(max_examples=150, deadline=None)
@given(prefix=st.sampled_from(MAGICS), body=st.binary(max_size=96))
def test_any_bytes_give_info_or_a_typed_error(prefix: bytes, body: bytes) -> None:
    try:
        info = probe(prefix + body, max_pixels=MAX)
    except PixgateError as error:
        status = error.status
    else:
        assert info.width >= 1 and info.height >= 1 and info.pages >= 1
        status = 200
    assert status in (200, 415, 422)


def _cut_and_flipped(data: bytes) -> st.SearchStrategy[bytes]:
    """`data` cut anywhere, with a few of its bytes replaced."""
    return st.builds(
        lambda keep, flips: bytes(flips.get(index, byte) for index, byte in enumerate(data[:keep])),
        st.integers(0, len(data)),
        st.dictionaries(st.integers(0, len(data) - 1), st.integers(0, 255), max_size=4),
    )


@settings(max_examples=300, deadline=None)
@given(data=_cut_and_flipped(imagegen.quadrant_jpeg(16, 16)) | st.binary(max_size=64))
def test_jpeg_frame_reads_any_bytes(data: bytes) -> None:
    frame = jpeg_frame(b"\xff\xd8" + data[2:])
    assert frame is None or (0xC0 <= frame[0] <= 0xCF and 0 <= frame[1] <= 255)


CODEC_NAMES = {"HEVC", "AV1", "VVC", "AVC", "JPEG 2000", "JPEG", "uncompressed"}


@settings(max_examples=300, deadline=None)
@given(data=_cut_and_flipped(codings.hevc_heic()) | st.binary(max_size=64))
def test_heif_codec_reads_any_bytes(data: bytes) -> None:
    assert heif_codec(data) in {None, *CODEC_NAMES}
