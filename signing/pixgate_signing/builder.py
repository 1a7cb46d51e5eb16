"""Build signed pixgate URLs from Python."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from typing import TypedDict, Unpack
from urllib.parse import quote

from pixgate_signing.direct import (
    DIRECT_FITS,
    DIRECT_SIZES,
    SIGNATURE_PARAMETER,
    SIZE_NAMES,
    canonical_direct_target,
    direct_path,
)
from pixgate_signing.keys import KeyPair, parse_key_pairs
from pixgate_signing.signature import FULL_SIZE, sign_path, verify_path

#: Resizing types the proxy understands (imgproxy's names).
FITS = ("fit", "fill", "fill-down", "force", "auto")
#: Output formats the proxy can encode.
FORMATS = ("jpeg", "jpg", "png", "webp", "avif", "gif")

# Characters a plain source may hold as they are; a source with any other character (or
# '@', which the proxy reads as the start of the output extension) is sent base64-encoded.
_PLAIN_SAFE = "/:-._~!$&'()*+,;="


class SrcsetTransform(TypedDict, total=False):
    """Keyword arguments shared by every URL of a srcset."""

    #: Resizing type, one of :data:`FITS` (default: the proxy's ``fit``).
    fit: str | None
    #: Output format, one of :data:`FORMATS` (default: negotiated from ``Accept``).
    format: str | None
    #: Lossy quality 1-100 (default: the server's per-format default).
    quality: int | None
    #: Extra raw option segments such as ``"g:sm"`` or ``"bl:2"``, placed last.
    options: Iterable[str]


class Transform(SrcsetTransform, total=False):
    """Keyword arguments of :meth:`UrlBuilder.url` and :meth:`UrlBuilder.path`."""

    #: Target width in pixels (0: from the height, keeping the aspect ratio).
    width: int
    #: Target height in pixels (0: from the width, keeping the aspect ratio).
    height: int


class UrlBuilder:
    """Signs transform URLs for one pixgate deployment.

    `key` and `salt` are hex strings as configured on the server (``PIXGATE_KEY``,
    ``PIXGATE_SALT``; with several comma-separated pairs the first signs and all verify)
    or raw bytes. `base_url` is where pixgate (or the CDN in front of it) is reached.
    """

    def __init__(
        self,
        base_url: str,
        key: str | bytes,
        salt: str | bytes,
        *,
        signature_size: int = FULL_SIZE,
        encode_source: bool = False,
    ) -> None:
        if isinstance(key, bytes) and isinstance(salt, bytes):
            self._key_pairs: tuple[KeyPair, ...] = (KeyPair(key, salt),)
        elif isinstance(key, str) and isinstance(salt, str):
            self._key_pairs = parse_key_pairs(key, salt)
        else:
            raise TypeError("key and salt must both be hex strings or both be bytes")
        if not 1 <= signature_size <= FULL_SIZE:
            raise ValueError(f"signature_size must be 1-{FULL_SIZE}, got {signature_size}")
        self.base_url = base_url.rstrip("/")
        self.signature_size = signature_size
        self.encode_source = encode_source

    def __repr__(self) -> str:
        return f"UrlBuilder({self.base_url!r}, key=<hidden>, salt=<hidden>)"

    def path(self, source: str, **transform: Unpack[Transform]) -> str:
        """The signed path (``/{signature}/...``) for `source` with these options.

        `source` is a storage key (``originals/cat.jpg``), ``local:///path`` or
        ``s3://bucket/key``. See :class:`Transform` for the keyword arguments.
        """
        unsigned = build_unsigned_path(
            source,
            segments=_option_segments(transform),
            format=transform.get("format"),
            encode_source=self.encode_source,
        )
        return "/" + sign_path(unsigned, self._key_pairs[0], self.signature_size) + unsigned

    def url(self, source: str, **transform: Unpack[Transform]) -> str:
        """The absolute signed URL; arguments as for :meth:`path`."""
        return self.base_url + self.path(source, **transform)

    def srcset(
        self, source: str, widths: Sequence[int], **transform: Unpack[SrcsetTransform]
    ) -> str:
        """A ready ``srcset`` value: one width-limited URL per entry of `widths`."""
        if not widths:
            raise ValueError("srcset needs at least one width")
        return ", ".join(f"{self.url(source, width=w, **transform)} {w}w" for w in widths)

    def direct_url(
        self,
        image_id: str,
        *,
        size: str | None = None,
        ext: str | None = None,
        width: int = 0,
        height: int = 0,
        fit: str | None = None,
        format: str | None = None,
        quality: int | None = None,
    ) -> str:
        """A direct link to an uploaded image.

        ``direct_url("img_x", ext="jpg")`` is the original, ``size="small"`` (or ``"s"``,
        ``"medium"``, ``"large"``, ``"tiny"``) a fixed size; both unsigned. Any of
        `width`, `height`, `fit` (crop, contain, cover, fill), `format`, `quality` make a
        signed query-form link.
        """
        path = direct_path(image_id, size=size, ext=ext)
        parameters = _direct_parameters(width, height, fit, format, quality)
        if not parameters:
            return self.base_url + path
        if size is not None:
            raise ValueError("a named size cannot be combined with transform parameters")
        signature = sign_path(
            canonical_direct_target(path, parameters), self._key_pairs[0], self.signature_size
        )
        query = "&".join(f"{name}={value}" for name, value in parameters.items())
        return f"{self.base_url}{path}?{query}&{SIGNATURE_PARAMETER}={signature}"

    def direct_srcset(self, image_id: str, *, ext: str | None = None) -> str:
        """``srcset`` of the fixed sizes small, medium and large, by their box width.

        Use :meth:`srcset` with real widths when the image's aspect ratio is known."""
        return ", ".join(
            f"{self.direct_url(image_id, size=name, ext=ext)} {DIRECT_SIZES[code]}w"
            for name, code in SIZE_NAMES.items()
            if name != "tiny"
        )

    def verify(self, signature: str, path: str) -> bool:
        """True when `signature` is valid for `path` under any configured key pair."""
        return verify_path(signature, path, self._key_pairs, self.signature_size)


def build_unsigned_path(
    source: str, *, segments: Sequence[str], format: str | None, encode_source: bool
) -> str:
    """The part of a URL that gets signed: ``/{options}/plain/{source}[@ext]`` or the
    base64 form ``/{options}/{base64url(source)}[.ext]``."""
    if not source:
        raise ValueError("source must not be empty")
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    prefix = "".join(f"/{segment}" for segment in segments)
    # Percent-escapes in paths are rewritten by some HTTP clients and proxies (yarl turns
    # %40 back into '@'), which would break the signature; base64 survives every hop.
    if encode_source or quote(source, safe=_PLAIN_SAFE) != source:
        encoded = base64.urlsafe_b64encode(source.encode()).decode("ascii").rstrip("=")
        return f"{prefix}/{encoded}" + (f".{format}" if format else "")
    return f"{prefix}/plain/{source}" + (f"@{format}" if format else "")


def _option_segments(transform: Transform) -> list[str]:
    width, height = transform.get("width", 0), transform.get("height", 0)
    fit, quality = transform.get("fit"), transform.get("quality")
    if width < 0 or height < 0:
        raise ValueError("width and height must not be negative")
    segments: list[str] = []
    if fit is not None:
        if fit not in FITS:
            raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
        segments.append(f"rs:{fit}:{width}:{height}")
    else:
        if width:
            segments.append(f"w:{width}")
        if height:
            segments.append(f"h:{height}")
    if quality is not None:
        if not 1 <= quality <= 100:
            raise ValueError(f"quality must be 1-100, got {quality}")
        segments.append(f"q:{quality}")
    for segment in transform.get("options", ()):
        if ":" not in segment or "/" in segment:
            raise ValueError(f"option segment must look like 'name:arg', got {segment!r}")
        segments.append(segment)
    return segments


def _direct_parameters(
    width: int, height: int, fit: str | None, format: str | None, quality: int | None
) -> dict[str, str]:
    if width < 0 or height < 0:
        raise ValueError("width and height must not be negative")
    if fit is not None and fit not in DIRECT_FITS:
        raise ValueError(f"fit must be one of {', '.join(DIRECT_FITS)}, got {fit!r}")
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if quality is not None and not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1-100, got {quality}")
    values = {"w": width or None, "h": height or None, "fit": fit, "fmt": format, "q": quality}
    return {name: str(value) for name, value in values.items() if value is not None}
