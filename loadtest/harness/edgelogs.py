"""Edge access-log lines in each format `pixgate analytics ingest` reads, for tests and the
ingestion benchmark: one request described once, written as nginx JSON (the edge's
``pixgate_json`` log_format), a CloudFront standard log line or a Cloudflare Logpush record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["CLOUDFRONT_HEADER", "LoggedRequest", "cloudflare_line", "cloudfront_line", "nginx_line"]

CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)
CLOUDFRONT_HEADER = f"#Version: 1.0\n#Fields: {CLOUDFRONT_FIELDS}\n"

_NGINX_CACHE = {"HIT": "HIT", "MISS": "MISS", "BYPASS": "BYPASS", "": ""}
_CLOUDFRONT_CACHE = {"HIT": "Hit", "MISS": "Miss", "BYPASS": "Miss", "": "Error"}
_CLOUDFLARE_CACHE = {"HIT": "hit", "MISS": "miss", "BYPASS": "bypass", "": "unknown"}
_ACCEPT_HEADERS = {
    "avif": "image/avif,image/webp,*/*",
    "webp": "image/webp,*/*",
    "other": "*/*",
}


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    uri: str  # path and query as sent
    at: float = 1_764_648_258.25  # Unix time: 2025-12-02 04:04:18.25 UTC
    method: str = "GET"
    status: int = 200
    bytes: int = 5301
    cache: str = "HIT"  # HIT, MISS, BYPASS or "" (none)
    request_time: float = 0.002
    accept: str = "avif"  # avif, webp or other
    content_type: str = "image/avif"


def nginx_line(request: LoggedRequest) -> str:
    """As config/edge/nginx.conf's pixgate_json writes it (numbers unquoted, escape=json)."""
    return json.dumps(
        {
            "time": round(request.at, 3),
            "method": request.method,
            "uri": request.uri,
            "status": request.status,
            "bytes": request.bytes,
            "cache": _NGINX_CACHE[request.cache],
            "request_time": request.request_time,
            "accept": request.accept,
            "content_type": request.content_type,
        },
        separators=(",", ":"),
    )


def cloudfront_line(request: LoggedRequest) -> str:
    at = datetime.fromtimestamp(request.at, UTC)
    path, _, query = request.uri.partition("?")
    result = _CLOUDFRONT_CACHE[request.cache]
    fields = [
        at.strftime("%Y-%m-%d"),
        at.strftime("%H:%M:%S"),
        "FRA56-P1",
        str(request.bytes),
        "192.0.2.10",
        request.method,
        "d111111abcdef8.cloudfront.net",
        path,
        str(request.status),
        "-",
        "Mozilla/5.0%20(X11;%20Linux%20x86_64)",
        query or "-",
        "-",
        result,
        "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
        "img.example.com",
        "https",
        "420",
        f"{request.request_time:.3f}",
        "-",
        "TLSv1.3",
        "TLS_AES_128_GCM_SHA256",
        result,
        "HTTP/2.0",
        "-",
        "-",
        "51234",
        f"{request.request_time:.3f}",
        result,
        request.content_type or "-",
        str(request.bytes - 300),
        "-",
        "-",
    ]
    return "\t".join(fields)


def cloudflare_line(request: LoggedRequest) -> str:
    start_ns = int(request.at * 1e9)
    return json.dumps(
        {
            "ClientRequestHost": "img.example.com",
            "ClientRequestMethod": request.method,
            "ClientRequestURI": request.uri,
            "EdgeResponseStatus": request.status,
            "EdgeResponseBytes": request.bytes,
            "CacheCacheStatus": _CLOUDFLARE_CACHE[request.cache],
            "EdgeStartTimestamp": start_ns,
            "EdgeEndTimestamp": start_ns + int(request.request_time * 1e9),
            "EdgeResponseContentType": request.content_type,
            "RequestHeaders": {"accept": _ACCEPT_HEADERS[request.accept]},
        },
        separators=(",", ":"),
    )
