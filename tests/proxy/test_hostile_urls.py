"""Hostile request targets and headers over HTTP: every one a 4xx, the process unharmed.

Sources outside the allowed S3 prefix are refused before the store is contacted; overlong
request lines and headers are refused by aiohttp's parser; invalid UTF-8, raw or
percent-encoded, in a path, an option or a query is a 400. Targets are signed with the real
key, as an attacker holding a signed URL or a leaked key could, so each refusal is the
parser's or the source check's, not the signature's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pixgate_signing import KeyPair, sign_path

from tests.hostile import get
from tests.hostile import raw_exchange as exchange
from tests.proxy.conftest import KEY, SALT, ClientFactory
from tests.s3server import fake_store

Client = TestClient[Any, Any]
KEY_PAIR = KeyPair.from_hex(KEY, SALT)


def signed(unsigned: str) -> str:
    """`/{signature}{unsigned}`, signed over the text exactly as it will be sent."""
    return f"/{sign_path(unsigned, KEY_PAIR)}{unsigned}"


# (source as sent after /plain/, expected status, expected code)
S3_SOURCES = [
    pytest.param("s3://bucket/private/x.jpg", 403, "source_not_allowed", id="other-prefix"),
    pytest.param("s3://bucket/media-old/x.jpg", 403, "source_not_allowed", id="prefix-lookalike"),
    pytest.param("s3://bucket/media", 403, "source_not_allowed", id="the-prefix-itself"),
    pytest.param("s3://other-bucket/media/x.jpg", 403, "source_not_allowed", id="other-bucket"),
    pytest.param("s3://bucket/media/../private/x.jpg", 400, "invalid_source", id="dotdot"),
    pytest.param("s3://bucket/media/%2e%2e/private/x.jpg", 400, "invalid_source", id="enc-dotdot"),
    pytest.param("s3://bucket/media//x.jpg", 400, "invalid_source", id="empty-segment"),
    pytest.param("s3://bucket/media/./x.jpg", 400, "invalid_source", id="dot-segment"),
    pytest.param("s3://bucket/media/a%00b.jpg", 400, "invalid_source", id="nul"),
    pytest.param("s3://BUCKET/media/x.jpg", 400, "invalid_source", id="bad-bucket-name"),
    pytest.param("s3://127.0.0.1/media/x.jpg", 400, "invalid_source", id="ip-as-bucket"),
    pytest.param("s3:/bucket/media/x.jpg", 400, "invalid_source", id="one-slash"),
    pytest.param("s3://bucket", 400, "invalid_source", id="no-key"),
    pytest.param("../private/x.jpg", 400, "invalid_source", id="relative-dotdot"),
    pytest.param("local:///media/x.jpg", 403, "source_not_allowed", id="local-on-s3"),
    pytest.param("http://169.254.169.254/latest/meta-data/", 400, "unsupported_source", id="ssrf"),
    pytest.param("https://example.com/x.jpg", 400, "unsupported_source", id="https"),
]


@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize(("source", "status", "code"), S3_SOURCES)
async def test_s3_sources_outside_the_prefix_never_reach_the_store(
    make_client: ClientFactory, source: str, status: int, code: str
) -> None:
    async with fake_store(None) as store:  # would hold any request it got
        client = await make_client("s3://bucket/media", PIXGATE_S3_ENDPOINT_URL=store.endpoint_url)
        got, _, body = await exchange(client, get(signed("/plain/" + source).encode()))
        assert (got, json.loads(body)["error"]["code"]) == (status, code)
        assert store.request_lines == []
        assert (await client.get("/health")).status == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(get(b"/sig/plain/" + b"a" * 9000), id="request-line-9k"),
        pytest.param(get(b"/sig/plain/" + b"a" * 70000), id="request-line-70k"),
        pytest.param(get(b"/health", b"X-Long: " + b"a" * 9000), id="header-9k"),
        pytest.param(get(b"/health", b"Cookie: " + b"c=1; " * 4000), id="cookie-20k"),
        pytest.param(get(b"/health", *(b"X-%d: 1" % n for n in range(200))), id="200-headers"),
        pytest.param(get(b"/" + b"<script>alert(1)</script>" * 400), id="reflected-script-9k"),
    ],
)
async def test_overlong_requests_are_refused_by_the_parser(
    client: Client, request_bytes: bytes
) -> None:
    status, headers, body = await exchange(client, request_bytes)
    assert status in (400, 413, 414, 431)
    # aiohttp writes this refusal itself, before any middleware: plain text, never HTML.
    assert headers["content-type"].startswith("text/plain")
    assert b"<script" not in body or headers["content-type"].startswith("text/plain")
    assert (await client.get("/health")).status == 200


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        pytest.param(signed("/plain/caf%e9.jpg"), 400, "invalid_source", id="latin1-escape"),
        pytest.param(signed("/plain/%ff%fe.jpg"), 400, "invalid_source", id="ff-fe"),
        pytest.param(signed("/plain/%ed%a0%80.jpg"), 400, "invalid_source", id="surrogate"),
        pytest.param(signed("/plain/%f4%90%80%80.jpg"), 400, "invalid_source", id="above-max"),
        pytest.param(signed("/plain/a.jpg%c3"), 400, "invalid_source", id="cut-sequence"),
        pytest.param(signed("/_w"), 400, "invalid_source", id="base64-not-utf8"),
        pytest.param(signed("/cb:%ff/plain/originals/quad.jpg"), 400, "invalid_option", id="opt"),
        pytest.param(signed("/plain/originals/quad.jpg?cb=%ff"), 400, "invalid_option", id="query"),
        pytest.param(
            signed("/plain/originals/quad.jpg?%ff=1"), 400, "invalid_option", id="query-key"
        ),
        pytest.param("/img_aaaaaaaaaaaaaaaaaaaa.jpg?w=%ff", 400, "invalid_option", id="direct"),
        pytest.param(
            "/img_aaaaaaaaaaaaaaaaaaaa.jpg?w=1&s=%ff%fe", 400, "invalid_option", id="direct-sig"
        ),
        # The signature is checked first, on the raw text: no valid one holds a '%'.
        pytest.param("/%ff%ff/plain/originals/quad.jpg", 403, "invalid_signature", id="signature"),
    ],
)
async def test_invalid_utf8_is_refused(client: Client, target: str, status: int, code: str) -> None:
    got, headers, body = await exchange(client, get(target.encode()))
    assert (got, json.loads(body)["error"]["code"]) == (status, code)
    assert headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/health")).status == 200


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(b"/sig/plain/caf\xe9.jpg", id="path"),
        pytest.param(b"/sig/plain/x.jpg?cb=\xff", id="query"),
        pytest.param(b"/img_aaaaaaaaaaaaaaaaaaaa.jpg?w=\xc3", id="direct-query"),
        pytest.param(b"/sig/plain/a\x00b.jpg", id="nul"),
        pytest.param(b"/sig/plain/a\x7fb.jpg", id="del"),
    ],
)
async def test_raw_bytes_in_the_request_line_are_refused(client: Client, target: bytes) -> None:
    status, headers, _ = await exchange(client, get(target))
    assert status == 400
    assert headers["content-type"].startswith("text/plain")
    assert (await client.get("/health")).status == 200


async def test_non_ascii_header_values_are_harmless(client: Client) -> None:
    status, _, _ = await exchange(
        client,
        get(
            signed("/w:10/plain/originals/quad.jpg").encode(),
            b"Accept: image/\xff\xfe",
            b'If-None-Match: "\xc3"',
            b"X-Request-Id: \xed\xa0\x80",
        ),
    )
    assert status == 200
