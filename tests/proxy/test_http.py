"""The proxy over HTTP: real app, real files, real pixels and headers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import pyvips
from aiohttp.test_utils import TestClient
from pixgate_signing import KeyPair, UrlBuilder, sign_path

from loadtest.harness.ports import free_port
from tests.proxy.conftest import ClientFactory, raw_get
from tests.s3server import fake_store

Client = TestClient[Any, Any]

MAGIC = {
    "image/jpeg": (0, b"\xff\xd8\xff"),
    "image/png": (0, b"\x89PNG\r\n\x1a\n"),
    "image/webp": (8, b"WEBP"),
    "image/avif": (4, b"ftypavif"),
    "image/gif": (0, b"GIF8"),
}


def decoded(body: bytes) -> Any:
    return pyvips.Image.new_from_buffer(body, "")


def assert_magic(body: bytes, content_type: str) -> None:
    offset, magic = MAGIC[content_type]
    assert body[offset : offset + len(magic)] == magic


async def error_of(response: Any) -> tuple[int, str]:
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return response.status, body["error"]["code"]


@pytest.mark.parametrize(
    ("kwargs", "size"),
    [
        pytest.param({}, (400, 300), id="no-options"),
        pytest.param({"width": 200}, (200, 150), id="width-only"),
        pytest.param({"height": 60}, (80, 60), id="height-only"),
        pytest.param({"width": 100, "height": 100, "fit": "fit"}, (100, 75), id="fit"),
        pytest.param({"width": 100, "height": 100, "fit": "fill"}, (100, 100), id="fill"),
        pytest.param({"width": 100, "height": 50, "fit": "force"}, (100, 50), id="force"),
        pytest.param({"width": 80, "height": 100, "fit": "auto"}, (80, 60), id="auto-fit"),
        pytest.param({"width": 900, "fit": "fit"}, (400, 300), id="no-enlarge"),
        pytest.param({"width": 800, "options": ["el:1"]}, (800, 600), id="enlarge"),
        pytest.param({"width": 100, "options": ["dpr:2"]}, (200, 150), id="dpr"),
    ],
)
async def test_resizing(
    client: Client, urls: UrlBuilder, kwargs: dict[str, Any], size: tuple[int, int]
) -> None:
    response = await client.get(urls.path("originals/quad.jpg", format="jpeg", **kwargs))
    assert response.status == 200, await response.text()
    body = await response.read()
    assert_magic(body, "image/jpeg")
    image = decoded(body)
    assert (image.width, image.height) == size
    assert response.headers["Content-Length"] == str(len(body))


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "gif"])
async def test_explicit_formats(client: Client, urls: UrlBuilder, fmt: str) -> None:
    response = await client.get(urls.path("originals/quad.jpg", width=64, format=fmt))
    assert response.status == 200
    content_type = f"image/{fmt}"
    assert response.headers["Content-Type"] == content_type
    assert_magic(await response.read(), content_type)
    assert "Vary" not in response.headers


@pytest.mark.parametrize(
    ("source", "accept", "content_type"),
    [
        pytest.param("originals/quad.jpg", "image/avif,image/webp,*/*", "image/avif", id="avif"),
        pytest.param("originals/quad.jpg", "image/webp,*/*;q=0.8", "image/webp", id="webp"),
        pytest.param("originals/quad.jpg", "*/*", "image/jpeg", id="jpeg-stays"),
        pytest.param("originals/quad.jpg", "", "image/jpeg", id="no-accept"),
        pytest.param("originals/alpha.png", "image/png", "image/png", id="png-stays"),
        pytest.param("originals/anim.gif", "*/*", "image/gif", id="gif-stays"),
        pytest.param("originals/anim.gif", "image/avif,image/webp", "image/webp", id="anim-webp"),
    ],
)
async def test_negotiation(
    client: Client, urls: UrlBuilder, source: str, accept: str, content_type: str
) -> None:
    response = await client.get(urls.path(source, width=32), headers={"Accept": accept})
    assert response.status == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Vary"] == "Accept"
    assert_magic(await response.read(), content_type)


async def test_cache_headers_and_304(client: Client, urls: UrlBuilder) -> None:
    path = urls.path("originals/quad.jpg", width=50)
    first = await client.get(path, headers={"Accept": "image/webp"})
    assert first.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in first.headers["Content-Security-Policy"]
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    again = await client.get(path, headers={"Accept": "image/webp", "If-None-Match": etag})
    assert again.status == 304
    assert again.headers["ETag"] == etag
    assert await again.read() == b""

    weak = await client.get(path, headers={"Accept": "image/webp", "If-None-Match": f"W/{etag}"})
    assert weak.status == 304

    other_variant = await client.get(path, headers={"Accept": "image/avif", "If-None-Match": etag})
    assert other_variant.status == 200
    assert other_variant.headers["ETag"] != etag


async def test_etag_follows_source_version(
    make_client: ClientFactory, urls: UrlBuilder, storage_dir: Any
) -> None:
    client = await make_client(PIXGATE_SOURCE_CACHE_BYTES="0")
    path = urls.path("originals/quad.jpg", width=50, format="png")
    before = (await client.get(path)).headers["ETag"]
    assert (await client.get(path, headers={"If-None-Match": before})).status == 304
    target = storage_dir / "originals" / "quad.jpg"
    target.write_bytes(target.read_bytes() + b"\0")
    after = await client.get(path, headers={"If-None-Match": before})
    assert after.status == 200
    assert after.headers["ETag"] != before


async def test_expires(client: Client, urls: UrlBuilder) -> None:
    future = int(time.time()) + 120
    live = await client.get(urls.path("originals/quad.jpg", width=10, options=[f"exp:{future}"]))
    assert live.status == 200
    max_age = int(live.headers["Cache-Control"].split("max-age=")[1].split(",")[0])
    assert 0 < max_age <= 120
    past = int(time.time()) - 1
    expired = await client.get(urls.path("originals/quad.jpg", width=10, options=[f"exp:{past}"]))
    assert await error_of(expired) == (404, "expired")


async def test_exif_orientation_is_applied(client: Client, urls: UrlBuilder) -> None:
    response = await client.get(urls.path("originals/oriented6.jpg", format="png"))
    image = decoded(await response.read())
    assert (image.width, image.height) == (400, 300)
    assert image(10, 10)[:3] == pytest.approx([255, 0, 0], abs=40)  # red top-left, upright


async def test_cmyk_becomes_srgb(client: Client, urls: UrlBuilder) -> None:
    response = await client.get(urls.path("originals/cmyk.jpg", format="png"))
    image = decoded(await response.read())
    assert image.bands == 3 and image.interpretation == "srgb"


async def test_metadata_is_stripped(client: Client, urls: UrlBuilder) -> None:
    response = await client.get(urls.path("originals/oriented6.jpg", width=100, format="jpeg"))
    image = decoded(await response.read())
    assert "exif-data" not in image.get_fields()


async def test_head(client: Client, urls: UrlBuilder) -> None:
    response = await client.head(urls.path("originals/quad.jpg", width=20, format="webp"))
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/webp"
    assert int(response.headers["Content-Length"]) > 0


async def test_plain_source_with_escaped_characters(client: Client, urls: UrlBuilder) -> None:
    response = await client.get(urls.path("originals/dir with space/a@b.jpg", format="png"))
    assert response.status == 200
    assert decoded(await response.read()).width == 40


async def test_base64_source(client: Client) -> None:
    urls = UrlBuilder("", "736563726574", "68656C6C6F", encode_source=True)
    response = await client.get(urls.path("originals/quad.jpg", width=40, format="gif"))
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/gif"


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(
            lambda u: "/" + "A" * 43 + "/w:10/plain/originals/quad.jpg",
            (403, "invalid_signature"),
            id="bad-signature",
        ),
        pytest.param(
            lambda u: "/w:10/plain/originals/quad.jpg",
            (403, "invalid_signature"),
            id="missing-signature",
        ),
        pytest.param(
            lambda u: u.path("originals/quad.jpg", width=10).replace("w:10", "w:11"),
            (403, "invalid_signature"),
            id="tampered",
        ),
        pytest.param(
            lambda u: u.path("originals/quad.jpg", options=["w:abc"]),
            (400, "invalid_option"),
            id="bad-option",
        ),
        pytest.param(
            lambda u: u.path("originals/quad.jpg", options=["nope:1"]),
            (400, "invalid_option"),
            id="unknown-option",
        ),
        pytest.param(
            lambda u: u.path("originals/missing.jpg"), (404, "not_found"), id="missing-source"
        ),
        pytest.param(lambda u: u.path("originals/logo.svg"), (415, "unsupported_format"), id="svg"),
        pytest.param(
            lambda u: u.path("originals/text.jpg"), (415, "unsupported_format"), id="text-as-jpeg"
        ),
        pytest.param(
            lambda u: u.path("originals/broken.jpg", width=50),
            (422, "corrupt_image"),
            id="truncated",
        ),
        pytest.param(lambda u: u.path("originals/empty.jpg"), (422, "corrupt_image"), id="empty"),
        pytest.param(
            lambda u: u.path("http://example.com/cat.jpg"),
            (400, "unsupported_source"),
            id="http-source",
        ),
        pytest.param(
            lambda u: u.path("s3://elsewhere/cat.jpg"),
            (403, "source_not_allowed"),
            id="foreign-bucket",
        ),
    ],
)
async def test_error_statuses(
    client: Client, urls: UrlBuilder, build: Any, expected: tuple[int, str]
) -> None:
    response = await client.get(build(urls))
    assert await error_of(response) == expected
    assert (await client.get("/health")).status == 200  # the process lives on


@pytest.mark.parametrize(
    ("env", "source", "expected"),
    [
        pytest.param(
            {"PIXGATE_MAX_SRC_BYTES": "1000"}, "originals/quad.jpg", (413, "too_large"), id="bytes"
        ),
        pytest.param(
            {"PIXGATE_MAX_SRC_PIXELS": "1000"},
            "originals/quad.jpg",
            (422, "source_too_large"),
            id="pixels",
        ),
    ],
)
async def test_source_limits(
    make_client: ClientFactory,
    urls: UrlBuilder,
    env: dict[str, str],
    source: str,
    expected: tuple[int, str],
) -> None:
    client = await make_client(**env)
    assert await error_of(await client.get(urls.path(source, width=10))) == expected


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("local:///../../etc/passwd", id="local-dotdot"),
        pytest.param("../../../../etc/passwd", id="relative-dotdot"),
        pytest.param("originals/%2e%2e/%2e%2e/%2e%2e/etc/passwd", id="encoded-dots"),
        pytest.param("originals/..%2f..%2f..%2fetc/passwd", id="encoded-slash"),
        pytest.param("originals\\..\\..\\etc\\passwd", id="backslash"),
        pytest.param("originals/%5c..%5c..%5cetc%5cpasswd", id="encoded-backslash"),
        # Decoded once, so a double encoding is a file literally named "%2e%2e": absent.
        pytest.param("originals/%252e%252e/%252e%252e/etc/passwd", id="double-encoded-dots"),
        pytest.param("originals/..%252f..%252f..%252fetc/passwd", id="double-encoded-slash"),
        pytest.param("originals/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", id="overlong-utf8-dots"),
        pytest.param("originals/..%c0%af..%c0%afetc/passwd", id="overlong-utf8-slash"),
        pytest.param("originals/quad.jpg%00.png", id="nul"),
        pytest.param("originals/%0a../etc/passwd", id="newline"),
        # Look-alike dots are ordinary characters, never normalised to '.'.
        pytest.param(
            "originals/%E2%80%A4%E2%80%A4/%E2%80%A4%E2%80%A4/etc/passwd", id="one-dot-leader"
        ),
        pytest.param("originals/%E2%80%A5/%E2%80%A5/etc/passwd", id="two-dot-leader"),
        pytest.param("originals/%EF%BC%8E%EF%BC%8E/etc/passwd", id="fullwidth-dots"),
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("%2fetc/passwd", id="encoded-absolute"),
        pytest.param("local:////etc/passwd", id="local-absolute"),
        pytest.param("file:///etc/passwd", id="file-scheme"),
        pytest.param("../outside/secret.jpg", id="sibling-of-root"),
        pytest.param("originals/escape.jpg", id="symlink-to-file-outside"),
        pytest.param("originals/outside-dir/secret.jpg", id="symlink-to-dir-outside"),
        pytest.param("local:///originals/outside-dir/secret.jpg", id="local-symlink-dir"),
    ],
)
async def test_traversal_is_refused(
    client: Client, storage_dir: Any, original_bytes: dict[str, bytes], source: str
) -> None:
    # A JPEG just outside the root, reachable through symlinks inside it: were anything
    # followed out of the root, it would be served.
    outside = storage_dir.parent / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(original_bytes["originals/quad.jpg"])
    (storage_dir / "originals" / "escape.jpg").symlink_to(outside / "secret.jpg")
    (storage_dir / "originals" / "outside-dir").symlink_to(outside, target_is_directory=True)
    # Sign the raw text as an attacker with a valid key could, and send it unnormalised.
    unsigned = "/plain/" + source
    signature = sign_path(unsigned, KeyPair.from_hex("736563726574", "68656C6C6F"))
    status, body = await raw_get(client, f"/{signature}{unsigned}")
    assert 400 <= status < 500
    assert b"root:" not in body
    assert json.loads(body)["error"]["code"] in {
        "invalid_source",
        "source_not_allowed",
        "unsupported_source",
        "not_found",
        "http_404",  # aiohttp's router: its patterns do not match a decoded newline
    }
    assert (await client.get("/health")).status == 200


async def test_local_scheme_inside_root(client: Client, urls: UrlBuilder) -> None:
    response = await client.get(urls.path("local:///originals/quad.jpg", width=8, format="png"))
    assert response.status == 200


async def test_unknown_route_and_method_are_json(client: Client) -> None:
    response = await client.post("/health")
    assert await error_of(response) == (405, "http_405")


async def test_health_ready_metrics(client: Client, urls: UrlBuilder, storage_dir: Any) -> None:
    assert (await client.get("/health")).status == 200
    assert (await client.get("/ready")).status == 200
    await client.get(urls.path("originals/quad.jpg", width=10))
    await client.get(urls.path("originals/quad.jpg", width=11))
    text = await (await client.get("/metrics")).text()
    for name in (
        "pixgate_requests_total",
        "pixgate_request_duration_seconds_bucket",
        "pixgate_transform_duration_seconds_bucket",
        "pixgate_source_fetch_duration_seconds_bucket",
        'pixgate_source_cache_total{outcome="hit"}',
        "pixgate_transforms_in_flight",
        "pixgate_transforms_queued",
    ):
        assert name in text, name
    storage_dir.rename(storage_dir.with_name("gone"))
    status, code = await error_of(await client.get("/ready"))
    assert (status, code) == (503, "not_ready")


async def test_concurrent_identical_requests_share_one_transform(
    client: Client, urls: UrlBuilder
) -> None:
    path = urls.path("originals/quad.jpg", width=123, format="webp")
    responses = await asyncio.gather(*(client.get(path) for _ in range(6)))
    bodies = {await r.read() for r in responses}
    assert len(bodies) == 1
    text = await (await client.get("/metrics")).text()
    count = next(
        line
        for line in text.splitlines()
        if line.startswith('pixgate_transform_duration_seconds_count{format="webp"}')
    )
    assert float(count.split()[-1]) == 1.0


async def test_overload_answers_503_with_retry_after(
    make_client: ClientFactory, urls: UrlBuilder
) -> None:
    client = await make_client(PIXGATE_CONCURRENCY="1", PIXGATE_QUEUE_LIMIT="0")
    paths = [urls.path("originals/quad.jpg", width=w, format="avif") for w in range(300, 310)]
    responses = await asyncio.gather(*(client.get(p) for p in paths))
    statuses = sorted(r.status for r in responses)
    assert statuses[0] == 200 and statuses[-1] == 503
    refused = next(r for r in responses if r.status == 503)
    assert refused.headers["Retry-After"] == "1"
    assert await error_of(refused) == (503, "overloaded")


async def test_s3_source(
    make_client: ClientFactory,
    urls: UrlBuilder,
    s3_server: Any,
    s3_bucket: str,
    original_bytes: dict[str, bytes],
) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    s3.put_object(
        Bucket=s3_bucket, Key="media/originals/quad.jpg", Body=original_bytes["originals/quad.jpg"]
    )
    client = await make_client(
        f"s3://{s3_bucket}/media", PIXGATE_S3_ENDPOINT_URL=s3_server.endpoint_url
    )
    response = await client.get(urls.path("originals/quad.jpg", width=100, format="webp"))
    assert response.status == 200, await response.text()
    image = decoded(await response.read())
    assert (image.width, image.height) == (100, 75)
    absolute = await client.get(urls.path(f"s3://{s3_bucket}/media/originals/quad.jpg", width=5))
    assert absolute.status == 200
    missing = await client.get(urls.path("originals/nothing.jpg"))
    assert await error_of(missing) == (404, "not_found")
    outside = await client.get(urls.path(f"s3://{s3_bucket}/private/x.jpg"))
    assert await error_of(outside) == (403, "source_not_allowed")
    assert (await client.get("/ready")).status == 200


def metric_value(text: str, sample: str) -> float:
    line = next((line for line in text.splitlines() if line.startswith(sample + " ")), None)
    return 0.0 if line is None else float(line.rsplit(" ", 1)[1])


async def test_five_sizes_read_the_original_once(client: Client, urls: UrlBuilder) -> None:
    for width in (32, 150, 500, 1200, 64):
        response = await client.get(urls.path("originals/quad.jpg", width=width, format="webp"))
        assert response.status == 200
    text = await (await client.get("/metrics")).text()
    assert metric_value(text, 'pixgate_source_fetch_duration_seconds_count{backend="file"}') == 1
    assert metric_value(text, 'pixgate_source_cache_total{outcome="hit"}') == 4


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        pytest.param(None, (504, "storage_timeout"), id="store-never-answers"),
        pytest.param(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
            (502, "storage_error"),
            id="store-fails",
        ),
    ],
)
@pytest.mark.usefixtures("aws_env")
async def test_storage_faults(
    make_client: ClientFactory,
    urls: UrlBuilder,
    response: bytes | None,
    expected: tuple[int, str],
) -> None:
    async with fake_store(response) as store:
        client = await make_client(
            "s3://bucket",
            PIXGATE_S3_ENDPOINT_URL=store.endpoint_url,
            PIXGATE_FETCH_TIMEOUT="1",
            PIXGATE_FETCH_ATTEMPTS="1",  # retries and their backoff have tests of their own
        )
        started = time.monotonic()
        assert await error_of(await client.get(urls.path("originals/quad.jpg"))) == expected
        assert time.monotonic() - started < 5
        assert (await client.get("/health")).status == 200


@pytest.mark.usefixtures("aws_env")
async def test_storage_unreachable_is_502(make_client: ClientFactory, urls: UrlBuilder) -> None:
    client = await make_client(
        "s3://bucket", PIXGATE_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}"
    )
    assert await error_of(await client.get(urls.path("originals/quad.jpg"))) == (
        502,
        "storage_error",
    )
    assert (await client.get("/ready")).status == 503


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics"])
async def test_every_response_refuses_to_be_a_page(client: Client, path: str) -> None:
    response = await client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
