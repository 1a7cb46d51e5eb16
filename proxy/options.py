"""Transform options: the typed value every URL form is parsed into.

This module only defines the data. Parsing lives in :mod:`proxy.option_parsers`
(one table row per option) and :mod:`proxy.urlpath` (path splitting).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ResizingType(enum.Enum):
    """imgproxy resizing types."""

    FIT = "fit"
    FILL = "fill"
    FILL_DOWN = "fill-down"
    FORCE = "force"
    AUTO = "auto"


class GravityType(enum.Enum):
    """imgproxy gravity types; SMART uses libvips' attention-based smartcrop."""

    NORTH = "no"
    SOUTH = "so"
    EAST = "ea"
    WEST = "we"
    NORTH_EAST = "noea"
    NORTH_WEST = "nowe"
    SOUTH_EAST = "soea"
    SOUTH_WEST = "sowe"
    CENTER = "ce"
    SMART = "sm"


class OutputFormat(enum.Enum):
    """Formats pixgate can encode. Values are the canonical URL extensions."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self]

    @property
    def has_alpha(self) -> bool:
        return self is not OutputFormat.JPEG

    @property
    def animated(self) -> bool:
        return self in (OutputFormat.GIF, OutputFormat.WEBP)


_CONTENT_TYPES = {
    OutputFormat.JPEG: "image/jpeg",
    OutputFormat.PNG: "image/png",
    OutputFormat.WEBP: "image/webp",
    OutputFormat.AVIF: "image/avif",
    OutputFormat.GIF: "image/gif",
}

# Extensions accepted in URLs (`f:jpg`, `@jpg`, `.jpg`) and the format each one names.
FORMAT_EXTENSIONS: dict[str, OutputFormat] = {
    "jpg": OutputFormat.JPEG,
    "jpeg": OutputFormat.JPEG,
    "png": OutputFormat.PNG,
    "webp": OutputFormat.WEBP,
    "avif": OutputFormat.AVIF,
    "gif": OutputFormat.GIF,
}


# `q:auto`: the lowest quality whose output reaches PIXGATE_QUALITY_TARGET (a quality
# value like any other, so `fq:avif:auto` and presets need nothing special).
AUTO_QUALITY = -1


@dataclass(frozen=True, slots=True)
class Gravity:
    """Where to anchor a crop or an extension; offsets are in output pixels
    (or a fraction of the size when between 0 and 1, as in imgproxy)."""

    type: GravityType = GravityType.CENTER
    x_offset: float = 0.0
    y_offset: float = 0.0


@dataclass(frozen=True, slots=True)
class Color:
    """An sRGB colour, 0-255 per channel."""

    red: int
    green: int
    blue: int


@dataclass(frozen=True, slots=True)
class Options:
    """Everything a URL asks of one transform. Defaults mean "leave as is"."""

    resizing_type: ResizingType = ResizingType.FIT
    width: int = 0
    height: int = 0
    dpr: float = 1.0
    enlarge: bool = False
    extend: bool = False
    extend_gravity: Gravity = Gravity()
    gravity: Gravity = Gravity()
    quality: int = 0
    format_quality: tuple[tuple[OutputFormat, int], ...] = ()
    format: OutputFormat | None = None
    background: Color | None = None
    blur: float = 0.0
    sharpen: float = 0.0
    rotate: int = 0
    auto_rotate: bool = True
    strip_metadata: bool = True
    cachebuster: str = ""
    expires: int | None = None
    max_bytes: int = 0
    page: int | None = None  # one frame of an animation, as a still (None: all frames)

    def quality_for(self, output_format: OutputFormat) -> int:
        """The quality asked for `output_format`: 1-100, AUTO_QUALITY, or 0 for the
        configured default."""
        for fmt, quality in self.format_quality:
            if fmt is output_format:
                return quality
        return self.quality
