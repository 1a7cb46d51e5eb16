"""Which image a logged URI shows, by the proxy's own grammars."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploader.analytics.attribution import Attributor

ID = "img_4sPq0Zc1kLw9TnB2xY7e"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# (id, storage URL, URI, image id or None)
CASES = [
    ("direct-original", "file:///srv/media", f"/{ID}", ID),
    ("direct-ext", "file:///srv/media", f"/{ID}.webp", ID),
    ("direct-size", "file:///srv/media", f"/{ID}_s", ID),
    ("direct-size-ext", "file:///srv/media", f"/{ID}_t.jpg", ID),
    (
        "direct-query",
        "file:///srv/media",
        f"/{ID}.jpg?w=800&h=600&fit=cover&fmt=webp&q=85&s=AbC",
        ID,
    ),
    ("signed-plain", "file:///srv/media", f"/sig/rs:fit:300:300/plain/originals/{ID}@webp", ID),
    ("signed-plain-query", "file:///srv/media", f"/sig/plain/originals/{ID}?w=300&f=webp", ID),
    ("signed-base64", "file:///srv/media", f"/sig/w:300/{b64('originals/' + ID)}.avif", ID),
    (
        "signed-base64-split",
        "file:///srv/media",
        f"/sig/w:300/{b64('originals/' + ID)[:10]}/{b64('originals/' + ID)[10:]}",
        ID,
    ),
    (
        "signed-local",
        "file:///srv/media",
        f"/sig/w:300/plain/local:///originals/{ID}",
        ID,
    ),
    ("signed-s3", "s3://bucket/media", f"/sig/w:300/plain/s3://bucket/media/originals/{ID}", ID),
    ("s3-relative", "s3://bucket/media", f"/sig/w:300/plain/originals/{ID}", ID),
    ("other-source", "file:///srv/media", "/sig/w:300/plain/samples/sample.jpg", None),
    ("deeper-key", "file:///srv/media", f"/sig/w:300/plain/originals/{ID}/x", None),
    ("other-folder", "file:///srv/media", f"/sig/w:300/plain/archive/originals/{ID}", None),
    ("other-bucket", "s3://bucket/media", f"/sig/plain/s3://elsewhere/media/originals/{ID}", None),
    ("page", "file:///srv/media", f"/v/{ID}", None),
    ("metadata", "file:///srv/media", f"/api/v1/images/{ID}/metadata", None),
    ("upload-page", "file:///srv/media", "/", None),
    ("asset", "file:///srv/media", "/static/app.0123abcd.css", None),
    ("short-id", "file:///srv/media", "/img_123_s", None),
    ("traversal", "file:///srv/media", f"/sig/plain/originals/../originals/{ID}", None),
    ("bad-option", "file:///srv/media", f"/sig/nope:1/plain/originals/{ID}", None),
]


@pytest.mark.parametrize(
    ("storage_url", "uri", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_image_of_a_uri(storage_url: str, uri: str, expected: str | None) -> None:
    assert Attributor(storage_url, (), {}).image_id(uri) == expected


def test_presets_are_read_as_the_proxy_reads_them() -> None:
    uri = f"/sig/pr:thumb/plain/originals/{ID}"
    assert Attributor("file:///srv/media", (), {}).image_id(uri) is None  # unknown preset: 400
    presets = {"thumb": ("rs:fill:150:150",)}
    assert Attributor("file:///srv/media", (), presets).image_id(uri) == ID


def test_the_cache_is_bounded() -> None:
    attributor = Attributor("file:///srv/media", (), {}, cache_size=8)
    for n in range(100):
        attributor.image_id(f"/sig/w:{n + 1}/plain/originals/{ID}")
    hits, misses, maxsize, currsize = attributor.cache_info()
    assert (misses, maxsize, currsize) == (100, 8, 8)
    attributor.image_id(f"/sig/w:100/plain/originals/{ID}")
    assert attributor.cache_info()[0] == hits + 1


@given(st.text(max_size=200))
def test_any_uri_is_an_id_or_none(uri: str) -> None:
    found = Attributor("file:///srv/media", (), {}).image_id("/" + uri)
    assert found is None or found.startswith("img_")
