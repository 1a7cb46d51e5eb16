"""Build and verify signed pixgate image URLs.

pixgate URLs follow imgproxy's signing scheme, so signatures are byte-identical to
imgproxy's: ``base64url(HMAC-SHA256(key, salt + path))`` without padding, optionally
truncated. This package depends on ``itsdangerous`` only and is safe to install in any
web application::

    from pixgate_signing import UrlBuilder

    images = UrlBuilder("https://img.example.com", key="736563726574", salt="68656c6c6f")
    images.url("originals/cat.jpg", width=300, height=200, fit="fill", format="webp")
    images.srcset("originals/cat.jpg", widths=[150, 500, 1200])
"""

from __future__ import annotations

from pixgate_signing.builder import FITS, FORMATS, SrcsetTransform, Transform, UrlBuilder
from pixgate_signing.direct import DIRECT_FITS, DIRECT_SIZES, canonical_direct_target
from pixgate_signing.keys import InvalidKey, KeyPair, parse_key_pairs
from pixgate_signing.signature import sign_path, verify_path

__all__ = [
    "DIRECT_FITS",
    "DIRECT_SIZES",
    "FITS",
    "FORMATS",
    "InvalidKey",
    "KeyPair",
    "SrcsetTransform",
    "Transform",
    "UrlBuilder",
    "canonical_direct_target",
    "parse_key_pairs",
    "sign_path",
    "verify_path",
]
