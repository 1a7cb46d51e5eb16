"""Valid files in formats pixgate reads, coded in ways its libvips cannot decode.

Made from real files by patching their headers, so the repository holds no binary blobs:
the JPEG frame header (SOF) says what a 12-bit or hierarchical encoder would write, and the
HEIC is `imagegen.hevc_heic`, a HEIF whose primary item is HEVC (`hvc1` with a well-formed
`hvcC`), as phones and cameras write them. Decoders that lack the coding refuse these
before reading the entropy-coded data, which is why its content does not matter.
"""

from __future__ import annotations

from loadtest.harness import imagegen

SOF0, SOF1, SOF5 = 0xC0, 0xC1, 0xC5


def jpeg_with_frame(marker: int, precision: int, width: int = 40, height: int = 30) -> bytes:
    """A baseline JPEG whose frame header is changed to `marker` (SOF1: extended sequential,
    SOF5: hierarchical, ...) with `precision` bits per sample."""
    data = bytearray(imagegen.quadrant_jpeg(width, height))
    sof = data.index(bytes([0xFF, SOF0]))
    data[sof + 1] = marker
    data[sof + 4] = precision
    return bytes(data)


def twelve_bit_jpeg() -> bytes:
    """Extended sequential DCT, 12 bits per sample (medical imaging, some camera raws)."""
    return jpeg_with_frame(SOF1, 12)


def hierarchical_jpeg() -> bytes:
    """A differential sequential (hierarchical) frame, which libjpeg never implemented."""
    return jpeg_with_frame(SOF5, 8)


def hevc_heic() -> bytes:
    return imagegen.hevc_heic(40, 30)
