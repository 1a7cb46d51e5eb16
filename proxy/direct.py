"""Direct links to uploaded images, parsed into the same Options as the signed grammar.

    /{image_id}[.{ext}]                    the original (re-encoded, metadata stripped)
    /{image_id}_{s|m|l|t}[.{ext}]          fixed sizes: unsigned, the set is fixed
    /{image_id}[.{ext}]?w=&h=&fit=&fmt=&q=&s={signature}
                                           any transform, signed over the canonical query

The original's storage key is a pure function of the id, so no database is consulted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from pixgate_signing import KeyPair, canonical_direct_target, verify_path
from pixgate_signing.direct import QUERY_PARAMETERS, SIGNATURE_PARAMETER

from proxy.errors import BadRequest, Forbidden
from proxy.ids import IMAGE_ID_REGEX
from proxy.option_parsers import parse_options
from proxy.options import FORMAT_EXTENSIONS, Options

DIRECT_PATH = re.compile(rf"/({IMAGE_ID_REGEX})(?:_([smlt]))?(?:\.([A-Za-z0-9]{{1,8}}))?")
# What aiohttp's router matches before handing the request to `parse_direct`.
ROUTE_PATTERN = rf"{IMAGE_ID_REGEX}(?:_[smlt])?(?:\.[A-Za-z0-9]{{1,8}})?"

# Option segments of each fixed size; the box edges match pixgate_signing.DIRECT_SIZES.
SIZE_SEGMENTS: Mapping[str, tuple[str, ...]] = {
    "s": ("rs:fit:150:150",),
    "m": ("rs:fit:500:500",),
    "l": ("rs:fit:1200:1200",),
    "t": ("rs:fit:32:32", "bl:1", "q:50", "pg:0"),  # a still, also of an animation
}
_FIT_SEGMENTS: Mapping[str, tuple[str, ...]] = {
    "crop": ("rt:fill",),
    "cover": ("rt:fill",),
    "contain": ("rt:fit", "ex:1"),
    "fill": ("rt:force",),
}
_VALUE = re.compile(r"[A-Za-z0-9-]{1,16}")


@dataclass(frozen=True, slots=True)
class DirectRequest:
    image_id: str
    identity: str  # names the variant: the canonical target, for ETags and coalescing
    options: Options


def parse_direct(
    path: str,
    raw_query: str,
    *,
    key_pairs: tuple[KeyPair, ...],
    signature_size: int,
    presets: Mapping[str, tuple[str, ...]],
) -> DirectRequest:
    match = DIRECT_PATH.fullmatch(path)
    if match is None:
        raise BadRequest("expected /{image_id}[_{s|m|l|t}][.{ext}]", code="invalid_path")
    image_id, size, ext = match.groups()
    if ext is not None and ext.lower() not in FORMAT_EXTENSIONS:
        raise BadRequest(
            f"unknown extension {ext!r}; expected one of {', '.join(FORMAT_EXTENSIONS)}",
            code="invalid_option",
        )
    parameters = _query(raw_query)
    signature = parameters.pop(SIGNATURE_PARAMETER, None)
    segments = list(SIZE_SEGMENTS[size]) if size else []
    identity = path
    if parameters:
        if size:
            raise BadRequest("a named size takes no query parameters", code="invalid_path")
        identity = canonical_direct_target(path, parameters)
        if signature is None or not verify_path(signature, identity, key_pairs, signature_size):
            raise Forbidden("invalid signature", code="invalid_signature")
        segments += _query_segments(parameters)
    elif signature is not None:
        raise BadRequest("a signature without transform parameters", code="invalid_path")
    if ext is not None and "fmt" not in parameters:
        segments.append(f"f:{ext.lower()}")
    return DirectRequest(image_id, identity, parse_options(segments, presets))


def _query(raw_query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("query is not valid UTF-8", code="invalid_option") from None
    parameters: dict[str, str] = {}
    for name, value in pairs:
        if name not in QUERY_PARAMETERS and name != SIGNATURE_PARAMETER:
            raise BadRequest(
                f"unknown query parameter {name[:32]!r}; expected "
                f"{', '.join((*QUERY_PARAMETERS, SIGNATURE_PARAMETER))}",
                code="invalid_option",
            )
        if name in parameters:
            raise BadRequest(f"query parameter {name!r} given twice", code="invalid_option")
        if name != SIGNATURE_PARAMETER and not _VALUE.fullmatch(value):
            raise BadRequest(f"query parameter {name!r}: malformed value", code="invalid_option")
        parameters[name] = value
    return parameters


def _query_segments(parameters: Mapping[str, str]) -> list[str]:
    segments: list[str] = []
    for name, value in parameters.items():
        if name == "fit":
            if value not in _FIT_SEGMENTS:
                raise BadRequest(
                    f"query parameter 'fit': expected one of {', '.join(_FIT_SEGMENTS)}",
                    code="invalid_option",
                )
            segments += _FIT_SEGMENTS[value]
        else:
            segments.append(f"{'f' if name == 'fmt' else name}:{value}")
    return segments
