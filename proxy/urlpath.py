"""A raw request target split into signature, signed path, options and source.

Grammar (imgproxy's, plus a query form):

    /{signature}/{option}/.../plain/{percent-encoded source}[@{ext}][?{query}]
    /{signature}/{option}/.../{base64url(source), maybe in /-separated chunks}[.{ext}][?{query}]

Option segments are those containing ':'; the first segment without one starts the
source. Query keys are option names and their values the ':'-separated arguments
(`?w=300&fit=cover`); they apply after the path options, and an extension after both.
Nothing here checks the signature or the source's location: that is done elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from proxy.errors import BadRequest
from proxy.option_parsers import OPTION_NAMES, parse_options
from proxy.options import FORMAT_EXTENSIONS, Options, OutputFormat

MAX_TARGET_BYTES = 8 * 1024

_SIGNATURE = re.compile(r"[A-Za-z0-9_-]+")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    """What a request target asks for, before the signature is checked.

    `signed_path` is the exact text the signature covers: everything after the signature
    segment, its leading '/' included, and the '?query' as sent when there is one.
    `option_segments` are the path's option segments then the query's (as `key:value`),
    in the order they were applied. `options.format` already reflects `extension`.
    """

    signature: str
    signed_path: str
    option_segments: tuple[str, ...]
    source: str
    extension: OutputFormat | None
    options: Options


def _bad_path(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_path")


def _bad_source(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_source")


def _extension(ext: str) -> OutputFormat:
    fmt = FORMAT_EXTENSIONS.get(ext.lower())
    if fmt is None:
        shown = repr(ext if len(ext) <= 40 else ext[:40] + "...")
        raise BadRequest(
            f"unknown extension {shown}: expected one of {', '.join(FORMAT_EXTENSIONS)}",
            code="invalid_option",
        )
    return fmt


def _plain_source(raw: str) -> tuple[str, OutputFormat | None]:
    """`source[@ext]`, the source percent-decoded once (after splitting on the last '@')."""
    source, at, ext = raw.rpartition("@")
    if not at:
        source = raw
    try:
        decoded = unquote(source, errors="strict")
    except UnicodeDecodeError:
        raise _bad_source("plain source is not valid UTF-8 once percent-decoded") from None
    return decoded, _extension(ext) if at else None


def _base64_source(chunks: list[str]) -> tuple[str, OutputFormat | None]:
    """base64url chunks, padded or not, the last one maybe ending in `.ext`."""
    last, dot, ext = chunks[-1].rpartition(".")
    encoded = "".join(chunks[:-1]) + (last if dot else chunks[-1])
    if "" in chunks:
        raise _bad_source("empty segment in base64 source")
    unpadded = encoded.rstrip("=")
    if not _BASE64URL.fullmatch(encoded) or (unpadded != encoded and len(encoded) % 4):
        raise _bad_source("source is neither 'plain/...' nor valid base64url")
    try:
        padded = unpadded + "=" * (-len(unpadded) % 4)
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _bad_source("source is not valid base64url-encoded UTF-8") from None
    return decoded, _extension(ext) if dot else None


def _query_segments(query: str) -> tuple[str, ...]:
    """`key=value&...` as option segments `key:value`; keys must be distinct options."""
    segments: list[str] = []
    seen: set[str] = set()
    for pair in query.split("&"):
        if not pair:
            continue
        key, equals, value = pair.partition("=")
        name = OPTION_NAMES.get(key)
        if name is None:
            shown = repr(key if len(key) <= 40 else key[:40] + "...")
            raise BadRequest(f"unknown option {shown} in query", code="invalid_option")
        if name in seen:
            raise BadRequest(f"option {key!r} ({name}) given twice in query", code="invalid_option")
        seen.add(name)
        segments.append(f"{key}:{value}" if equals else key)
    return tuple(segments)


def parse_target(raw_target: str, presets: Mapping[str, tuple[str, ...]]) -> ParsedTarget:
    """Split and parse a raw, still percent-encoded request target (path and query).

    Raises BadRequest: code ``invalid_path`` for a malformed target, ``invalid_source``
    for a source that does not decode, ``invalid_option`` for options and extensions.
    """
    if len(raw_target) > MAX_TARGET_BYTES or (
        len(raw_target.encode("utf-8", "surrogatepass")) > MAX_TARGET_BYTES
    ):
        raise _bad_path(f"request target is longer than {MAX_TARGET_BYTES} bytes")
    path, _, query = raw_target.partition("?")
    if not path.startswith("/"):
        raise _bad_path("request target must start with '/'")
    signature, *segments = path[1:].split("/")
    if not _SIGNATURE.fullmatch(signature):
        raise _bad_path("expected /{signature}/{options}/{source}: missing or malformed signature")
    option_count = next((i for i, s in enumerate(segments) if ":" not in s), len(segments))
    path_options, source_segments = segments[:option_count], segments[option_count:]
    if source_segments[:1] == ["plain"]:
        source, extension = _plain_source("/".join(source_segments[1:]))
    elif source_segments:
        source, extension = _base64_source(source_segments)
    else:
        source, extension = "", None
    if not source:
        raise _bad_source("source is empty")
    option_segments = (*path_options, *_query_segments(query))
    options = parse_options(option_segments, presets)
    if extension is not None:
        # As in imgproxy, the URL's extension wins over any format option.
        options = dataclasses.replace(options, format=extension)
    return ParsedTarget(
        signature=signature,
        signed_path=raw_target[1 + len(signature) :],
        option_segments=option_segments,
        source=source,
        extension=extension,
        options=options,
    )
