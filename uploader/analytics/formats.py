"""Edge access-log formats: each line to one `EdgeRequest`, or None when it is not a request.

Three formats (README, "Views and edge figures", has the field mapping):

- ``nginx``: the JSON line `config/edge/nginx.conf` writes (log_format ``pixgate_json``);
- ``cloudfront``: CloudFront standard logs (tab-separated, ``#`` comment lines);
- ``cloudflare``: Cloudflare Logpush ``http_requests`` as JSON lines.

A parser is a pure function and never raises: a line it cannot read (garbage, a torn write,
a field of the wrong type) is None, which the ingester counts as skipped. Comment and blank
lines are told apart first (`LogFormat.is_comment`) and not counted at all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

__all__ = [
    "FORMATS",
    "EdgeRequest",
    "LogFormat",
    "accept_class",
    "cache_outcome",
    "parse_cloudflare",
    "parse_cloudfront",
    "parse_nginx",
]

# Requests outside these years are a corrupt line, not a request (and would not fit a date).
_EARLIEST = datetime(2000, 1, 1).timestamp()
_LATEST = datetime(2200, 1, 1).timestamp()
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_LONGEST_REQUEST = 86_400.0 * 365
_NUMBERS = (int, float)
_JSON = json.JSONDecoder()
NO_VALUE = "-"


@dataclass(frozen=True, slots=True)
class EdgeRequest:
    """One request as the edge answered it."""

    minute: int  # Unix time // 60, UTC
    method: str  # GET, HEAD, ...
    uri: str  # the raw request target: path and query, still percent-encoded
    status: int
    bytes: int  # sent to the client, headers included
    cache_status: str  # HIT, MISS, EXPIRED, STALE, UPDATING, REVALIDATED, BYPASS, ..., or -
    seconds: float  # the edge's request time
    accept_class: str  # avif, webp, other (the edge's cache-key class), or - when not logged
    format: str  # of the body served: avif, webp, jpeg, png, gif, other, or - when none


@dataclass(frozen=True, slots=True)
class LogFormat:
    name: str
    parse: Callable[[bytes], EdgeRequest | None]
    comment_prefix: bytes | None = None

    def is_comment(self, line: bytes) -> bool:
        """Blank lines and the format's headers: neither requests nor garbage."""
        if not line.strip():
            return True
        return self.comment_prefix is not None and line.startswith(self.comment_prefix)


# Cache outcomes in one vocabulary, nginx's ($upstream_cache_status).
_CACHE_OUTCOMES: Mapping[str, str] = MappingProxyType(
    {
        # nginx
        "HIT": "HIT",
        "MISS": "MISS",
        "EXPIRED": "EXPIRED",
        "STALE": "STALE",
        "UPDATING": "UPDATING",
        "REVALIDATED": "REVALIDATED",
        "BYPASS": "BYPASS",
        # CloudFront x-edge-result-type
        "Hit": "HIT",
        "RefreshHit": "REVALIDATED",
        "Miss": "MISS",
        "Error": "ERROR",
        "LimitExceeded": "ERROR",
        "CapacityExceeded": "ERROR",
        "Redirect": "REDIRECT",
        "FunctionGeneratedResponse": "GENERATED",
        # Cloudflare CacheCacheStatus
        "hit": "HIT",
        "miss": "MISS",
        "expired": "EXPIRED",
        "stale": "STALE",
        "updating": "UPDATING",
        "revalidated": "REVALIDATED",
        "bypass": "BYPASS",
        "dynamic": "BYPASS",
    }
)
_FORMATS_BY_TYPE: Mapping[str, str] = MappingProxyType(
    {
        "image/avif": "avif",
        "image/webp": "webp",
        "image/jpeg": "jpeg",
        "image/png": "png",
        "image/gif": "gif",
        "image/heif": "heif",
        "image/heic": "heif",
    }
)


def cache_outcome(raw: str) -> str:
    """`raw` (any format's cache status) in nginx's vocabulary; - when there is none."""
    return _CACHE_OUTCOMES.get(raw, NO_VALUE if raw in ("", "-", "unknown", "none") else "OTHER")


@lru_cache(maxsize=256)
def _format_of(content_type: str) -> str:
    media_type = content_type.partition(";")[0].strip().lower()
    if not media_type or media_type == "-":
        return NO_VALUE
    return _FORMATS_BY_TYPE.get(media_type, "other")


@lru_cache(maxsize=1024)
def accept_class(accept: str) -> str:
    """The edge's cache-key class of an Accept header (config/edge/nginx.conf's map)."""
    lowered = accept.lower()
    if "image/avif" in lowered:
        return "avif"
    if "image/webp" in lowered:
        return "webp"
    return "other"


def _minute(unix_seconds: float) -> int | None:
    if not _EARLIEST <= unix_seconds < _LATEST:  # also False for NaN
        return None
    return int(unix_seconds // 60)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_nginx(line: bytes) -> EdgeRequest | None:
    """One line of the edge's ``pixgate_json`` log_format::

    {"time":1764648258.123,"method":"GET","uri":"/img_..._s","status":200,"bytes":5301,
     "cache":"HIT","request_time":0.001,"accept":"avif","content_type":"image/avif"}

    The hot loop of ingestion: exact type checks, no helper calls on the common path.
    """
    try:
        fields = _JSON.decode(line.decode())
        time, request_time = fields["time"], fields["request_time"]
        method, uri = fields["method"], fields["uri"]
        status, sent = fields["status"], fields["bytes"]
        cache, accept, content_type = fields["cache"], fields["accept"], fields["content_type"]
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    if (
        type(time) not in _NUMBERS
        or type(request_time) not in _NUMBERS
        or type(status) is not int
        or type(sent) is not int
        or type(method) is not str
        or type(uri) is not str
        or type(cache) is not str
        or type(accept) is not str
        or type(content_type) is not str
        or not _EARLIEST <= time < _LATEST  # False for NaN and infinities too
        or not 0 <= request_time < _LONGEST_REQUEST
        or status < 0
        or sent < 0
    ):
        return None
    return EdgeRequest(
        int(time // 60),
        method,
        uri,
        status,
        sent,
        _CACHE_OUTCOMES.get(cache) or cache_outcome(cache),
        float(request_time),
        accept or NO_VALUE,
        _format_of(content_type),
    )


# CloudFront standard log fields, by position (0-based), in the order of its #Fields header.
_CF_DATE, _CF_TIME, _CF_BYTES, _CF_METHOD, _CF_STEM, _CF_STATUS = 0, 1, 3, 5, 7, 8
_CF_QUERY, _CF_RESULT, _CF_TIME_TAKEN, _CF_CONTENT_TYPE = 11, 13, 18, 29


@lru_cache(maxsize=4096)
def _epoch_day(text: str) -> int:
    return date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL


def parse_cloudfront(line: bytes) -> EdgeRequest | None:
    """One line of a CloudFront standard log (the tab-separated fields of its #Fields header:
    date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status ...)."""
    fields = line.decode("utf-8", "replace").rstrip("\r\n").split("\t")
    if len(fields) <= _CF_TIME_TAKEN:
        return None
    clock = fields[_CF_TIME]
    try:
        day = _epoch_day(fields[_CF_DATE])
        if len(clock) != 8 or clock[2] != ":" or clock[5] != ":":
            return None
        minute = day * 1440 + int(clock[:2]) * 60 + int(clock[3:5])
        status = int(fields[_CF_STATUS])
        sent = int(fields[_CF_BYTES])
        seconds = float(fields[_CF_TIME_TAKEN])
    except ValueError:
        return None
    at = minute * 60.0
    if (
        not _EARLIEST <= at < _LATEST
        or status < 0
        or sent < 0
        or not (math.isfinite(seconds) and seconds >= 0)
    ):
        return None
    stem, query = fields[_CF_STEM], fields[_CF_QUERY]
    content_type = fields[_CF_CONTENT_TYPE] if len(fields) > _CF_CONTENT_TYPE else NO_VALUE
    return EdgeRequest(
        minute,
        fields[_CF_METHOD],
        stem if query in ("-", "") else f"{stem}?{query}",
        status,
        sent,
        cache_outcome(fields[_CF_RESULT]),
        seconds,
        NO_VALUE,  # CloudFront's standard log has no request headers but User-Agent
        _format_of(content_type),
    )


def _unix_seconds(value: Any) -> float | None:
    """A Logpush timestamp in any of its formats: RFC 3339 text, or Unix s, ms or ns."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except (ValueError, OverflowError):
            return None
    seconds = _seconds(value)
    if seconds is None:
        return None
    if seconds > 1e17:
        return seconds / 1e9
    if seconds > 1e14:
        return seconds / 1e6
    if seconds > 1e11:
        return seconds / 1e3
    return seconds


def parse_cloudflare(line: bytes) -> EdgeRequest | None:
    """One Logpush ``http_requests`` record. Needs ClientRequestMethod, ClientRequestURI,
    EdgeResponseStatus, EdgeResponseBytes, CacheCacheStatus, EdgeStartTimestamp; uses
    EdgeEndTimestamp (else EdgeTimeToFirstByteMs), EdgeResponseContentType and the
    ``accept`` of RequestHeaders when the job logs them."""
    try:
        fields = _JSON.decode(line.decode())
        start = _unix_seconds(fields["EdgeStartTimestamp"])
        method, uri = fields["ClientRequestMethod"], fields["ClientRequestURI"]
        status, sent = _count(fields["EdgeResponseStatus"]), _count(fields["EdgeResponseBytes"])
        cache = fields["CacheCacheStatus"]
        end = _unix_seconds(fields.get("EdgeEndTimestamp"))
        first_byte_ms = _seconds(fields.get("EdgeTimeToFirstByteMs"))
        content_type = fields.get("EdgeResponseContentType", "")
        headers = fields.get("RequestHeaders") or {}
        accept = headers.get("accept") if isinstance(headers, dict) else None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None
    if (
        start is None
        or status is None
        or sent is None
        or not isinstance(method, str)
        or not isinstance(uri, str)
        or not isinstance(cache, str)
    ):
        return None
    minute = _minute(start)
    if minute is None:
        return None
    # The edge's whole request time when both ends are logged, else its time to first byte.
    has_end = end is not None and end >= start
    seconds = end - start if end is not None and has_end else (first_byte_ms or 0.0) / 1000
    return EdgeRequest(
        minute,
        method,
        uri,
        status,
        sent,
        cache_outcome(cache),
        seconds,
        accept_class(accept) if isinstance(accept, str) else NO_VALUE,
        _format_of(content_type) if isinstance(content_type, str) else NO_VALUE,
    )


FORMATS: Mapping[str, LogFormat] = MappingProxyType(
    {
        "nginx": LogFormat("nginx", parse_nginx),
        "cloudfront": LogFormat("cloudfront", parse_cloudfront, comment_prefix=b"#"),
        "cloudflare": LogFormat("cloudflare", parse_cloudflare),
    }
)
