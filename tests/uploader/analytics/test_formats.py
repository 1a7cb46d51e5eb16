"""Log formats: a table of real-shaped lines per format, garbage that never crashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.harness.edgelogs import (
    CLOUDFRONT_HEADER,
    LoggedRequest,
    cloudflare_line,
    cloudfront_line,
    nginx_line,
)
from uploader.analytics.formats import FORMATS, EdgeRequest, accept_class, cache_outcome

ID = "img_4sPq0Zc1kLw9TnB2xY7e"
MINUTE = 1_764_648_258 // 60  # 2025-12-02 04:04 UTC

# (id, request as logged, what every format reads back: method, uri, status, bytes, cache,
#  format)
REQUESTS = [
    pytest.param(
        LoggedRequest(f"/{ID}_s"), ("GET", f"/{ID}_s", 200, 5301, "HIT", "avif"), id="hit-avif"
    ),
    pytest.param(
        LoggedRequest(
            f"/{ID}.jpg?w=800&h=600&fit=cover&s=abc",
            cache="MISS",
            content_type="image/jpeg",
            accept="other",
            request_time=0.412,
        ),
        ("GET", f"/{ID}.jpg?w=800&h=600&fit=cover&s=abc", 200, 5301, "MISS", "jpeg"),
        id="miss-query-form",
    ),
    pytest.param(
        LoggedRequest(f"/{ID}_m", status=304, bytes=180, content_type="", accept="webp"),
        ("GET", f"/{ID}_m", 304, 180, "HIT", "-"),
        id="not-modified",
    ),
    pytest.param(
        LoggedRequest(
            "/img_00000000000000000000_s", status=404, cache="MISS", content_type="application/json"
        ),
        ("GET", "/img_00000000000000000000_s", 404, 5301, "MISS", "other"),
        id="not-found",
    ),
    pytest.param(
        LoggedRequest(f"/{ID}_l", method="HEAD", bytes=320),
        ("HEAD", f"/{ID}_l", 200, 320, "HIT", "avif"),
        id="head",
    ),
    pytest.param(
        LoggedRequest(
            "/api/v1/images",
            method="POST",
            status=201,
            cache="BYPASS",
            content_type="application/json",
        ),
        ("POST", "/api/v1/images", 201, 5301, "BYPASS", "other"),
        id="upload-bypass",
    ),
]


@pytest.mark.parametrize(("request_", "expected"), REQUESTS)
@pytest.mark.parametrize(
    ("log_format", "write"),
    [
        pytest.param("nginx", nginx_line, id="nginx"),
        pytest.param("cloudfront", cloudfront_line, id="cloudfront"),
        pytest.param("cloudflare", cloudflare_line, id="cloudflare"),
    ],
)
def test_each_format_reads_the_request(
    log_format: str,
    write: object,
    request_: LoggedRequest,
    expected: tuple[str, str, int, int, str, str],
) -> None:
    line = write(request_).encode()  # type: ignore[operator]
    parsed = FORMATS[log_format].parse(line)
    assert parsed is not None
    method, uri, status, sent, cache, fmt = expected
    if log_format == "cloudfront" and cache == "BYPASS":
        cache = "MISS"  # CloudFront logs a request it does not cache as a Miss
    assert (parsed.method, parsed.uri, parsed.status, parsed.bytes) == (method, uri, status, sent)
    assert (parsed.cache_status, parsed.format, parsed.minute) == (cache, fmt, MINUTE)
    assert parsed.seconds == pytest.approx(request_.request_time, abs=1e-3)
    # CloudFront's standard log has no Accept header; the others carry its class.
    assert parsed.accept_class == ("-" if log_format == "cloudfront" else request_.accept)


def test_nginx_line_as_the_edge_writes_it() -> None:
    line = (
        b'{"time":1764648258.123,"method":"GET","uri":"/img_4sPq0Zc1kLw9TnB2xY7e_s?x=\\"1\\"",'
        b'"status":200,"bytes":5301,"cache":"","request_time":0.000,"accept":"other",'
        b'"content_type":"image/webp"}'
    )
    assert FORMATS["nginx"].parse(line) == EdgeRequest(
        MINUTE, "GET", '/img_4sPq0Zc1kLw9TnB2xY7e_s?x="1"', 200, 5301, "-", 0.0, "other", "webp"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2025-12-02T04:04:18Z", MINUTE, id="rfc3339"),
        pytest.param("2025-12-02T04:04:18.123456789Z"[:26] + "Z", MINUTE, id="rfc3339-fraction"),
        pytest.param(1_764_648_258, MINUTE, id="unix"),
        pytest.param(1_764_648_258_123, MINUTE, id="unix-ms"),
        pytest.param(1_764_648_258_123_456_789, MINUTE, id="unix-ns"),
    ],
)
def test_cloudflare_timestamps_in_every_logpush_format(value: object, expected: int) -> None:
    line = (
        '{"ClientRequestMethod":"GET","ClientRequestURI":"/x","EdgeResponseStatus":200,'
        '"EdgeResponseBytes":1,"CacheCacheStatus":"hit","EdgeStartTimestamp":%s,'
        '"EdgeTimeToFirstByteMs":12}'
    ) % (f'"{value}"' if isinstance(value, str) else value)
    parsed = FORMATS["cloudflare"].parse(line.encode())
    assert parsed is not None
    assert (parsed.minute, parsed.seconds, parsed.accept_class) == (expected, 0.012, "-")


GARBAGE = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00\xff\xfe garbage \x80", id="binary"),
    pytest.param(b"{", id="torn-json"),
    pytest.param(b'{"time":1764648258.1,"method":"GET"', id="torn-object"),
    pytest.param(b"[1, 2, 3]", id="json-array"),
    pytest.param(b'"just a string"', id="json-string"),
    pytest.param(b"12", id="json-number"),
    pytest.param(b"[" * 100_000, id="deep-nesting"),
    pytest.param(
        b'{"time":"yesterday","method":"GET","uri":"/a","status":200,"bytes":1,"cache":"HIT",'
        b'"request_time":0.1,"accept":"avif","content_type":"image/avif"}',
        id="time-as-text",
    ),
    pytest.param(
        b'{"time":1764648258,"method":"GET","uri":7,"status":200,"bytes":1,"cache":"HIT",'
        b'"request_time":0.1,"accept":"avif","content_type":"image/avif"}',
        id="uri-as-number",
    ),
    pytest.param(
        b'{"time":1e300,"method":"GET","uri":"/a","status":200,"bytes":1,"cache":"HIT",'
        b'"request_time":0.1,"accept":"avif","content_type":"image/avif"}',
        id="time-out-of-range",
    ),
    pytest.param(
        b'{"time":NaN,"method":"GET","uri":"/a","status":200,"bytes":-1,"cache":"HIT",'
        b'"request_time":0.1,"accept":"avif","content_type":"image/avif"}',
        id="nan-and-negative",
    ),
    pytest.param(b"2025-12-02\t04:04:18\tFRA56\t100", id="short-tsv"),
    pytest.param("\t".join(["2025-13-45", "04:04:18", *["x"] * 31]).encode(), id="tsv-bad-date"),
    pytest.param("\t".join(["2025-12-02", "4:4:18", *["1"] * 31]).encode(), id="tsv-bad-time"),
    pytest.param(b'{"ClientRequestMethod":"GET"}', id="cloudflare-missing-fields"),
    pytest.param(
        b'{"ClientRequestMethod":"GET","ClientRequestURI":"/x","EdgeResponseStatus":"200",'
        b'"EdgeResponseBytes":1,"CacheCacheStatus":"hit","EdgeStartTimestamp":"never"}',
        id="cloudflare-wrong-types",
    ),
]


@pytest.mark.parametrize("line", GARBAGE)
@pytest.mark.parametrize("log_format", sorted(FORMATS))
def test_garbage_is_none_never_an_exception(log_format: str, line: bytes) -> None:
    assert FORMATS[log_format].parse(line) is None


@given(st.binary(max_size=400))
def test_any_bytes_parse_or_are_none(line: bytes) -> None:
    for log_format in FORMATS.values():
        parsed = log_format.parse(line)
        assert parsed is None or isinstance(parsed, EdgeRequest)


@given(st.text(max_size=300))
def test_any_text_in_a_json_field_parses_or_is_none(text: str) -> None:
    request = LoggedRequest(text, content_type=text[:20])
    for log_format, write in (("nginx", nginx_line), ("cloudflare", cloudflare_line)):
        parsed = FORMATS[log_format].parse(write(request).encode())
        assert parsed is not None and parsed.uri == text


@pytest.mark.parametrize(
    ("log_format", "line", "comment"),
    [
        pytest.param("cloudfront", CLOUDFRONT_HEADER.splitlines()[0].encode(), True, id="cf-ver"),
        pytest.param("cloudfront", CLOUDFRONT_HEADER.splitlines()[1].encode(), True, id="cf-fld"),
        pytest.param("nginx", b"   ", True, id="blank"),
        pytest.param("nginx", b"#not a comment in JSON", False, id="nginx-hash"),
    ],
)
def test_comment_lines(log_format: str, line: bytes, comment: bool) -> None:
    assert FORMATS[log_format].is_comment(line) is comment


@pytest.mark.parametrize(
    ("raw", "outcome"),
    [
        pytest.param("HIT", "HIT", id="nginx-hit"),
        pytest.param("", "-", id="nginx-none"),
        pytest.param("RefreshHit", "REVALIDATED", id="cloudfront-refresh"),
        pytest.param("LimitExceeded", "ERROR", id="cloudfront-limit"),
        pytest.param("dynamic", "BYPASS", id="cloudflare-dynamic"),
        pytest.param("unknown", "-", id="cloudflare-unknown"),
        pytest.param("teapot", "OTHER", id="anything-else"),
    ],
)
def test_cache_outcomes_in_one_vocabulary(raw: str, outcome: str) -> None:
    assert cache_outcome(raw) == outcome


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param("image/avif,image/webp,image/apng,*/*;q=0.8", "avif", id="chrome"),
        pytest.param("image/webp,*/*", "webp", id="webp"),
        pytest.param("IMAGE/WEBP", "webp", id="case"),
        pytest.param("*/*", "other", id="any"),
    ],
)
def test_accept_classes_match_the_edge(accept: str, expected: str) -> None:
    assert accept_class(accept) == expected
