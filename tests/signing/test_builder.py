"""UrlBuilder: the URLs application developers put in their pages."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pixgate_signing import UrlBuilder

KEY, SALT = "736563726574", "68656C6C6F"


@pytest.fixture
def builder() -> UrlBuilder:
    return UrlBuilder("https://img.example.com/", KEY, SALT)


@pytest.mark.parametrize(
    ("kwargs", "expected_tail"),
    [
        pytest.param({}, "/plain/originals/cat.jpg", id="no-options"),
        pytest.param({"width": 300}, "/w:300/plain/originals/cat.jpg", id="width"),
        pytest.param(
            {"width": 300, "height": 200, "fit": "fill"},
            "/rs:fill:300:200/plain/originals/cat.jpg",
            id="fill",
        ),
        pytest.param(
            {"height": 90, "format": "webp", "quality": 70},
            "/h:90/q:70/plain/originals/cat.jpg@webp",
            id="height-format-quality",
        ),
        pytest.param(
            {"width": 10, "options": ["g:sm", "bl:2"]},
            "/w:10/g:sm/bl:2/plain/originals/cat.jpg",
            id="extra-options",
        ),
    ],
)
def test_url_shapes(builder: UrlBuilder, kwargs: dict[str, object], expected_tail: str) -> None:
    url = builder.url("originals/cat.jpg", **kwargs)  # type: ignore[arg-type]
    assert url.startswith("https://img.example.com/")
    signature, _, rest = url.removeprefix("https://img.example.com/").partition("/")
    assert "/" + rest == expected_tail
    assert builder.verify(signature, "/" + rest)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("originals/a b.jpg", id="space"),
        pytest.param("originals/a@b.jpg", id="at"),
        pytest.param("originals/a?b#c%.jpg", id="query-fragment-percent"),
        pytest.param("originals/café.jpg", id="non-ascii"),
    ],
)
def test_sources_needing_escapes_go_base64(builder: UrlBuilder, source: str) -> None:
    path = builder.path(source, format="png")
    assert "/plain/" not in path
    encoded = path.rsplit("/", 1)[1].removesuffix(".png")
    assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode() == source


def test_base64_source() -> None:
    builder = UrlBuilder("https://x", KEY, SALT, encode_source=True)
    tail = builder.path("s3://bucket/k.jpg", width=5, format="avif").split("/", 2)[2]
    segment = tail.split("/")[-1]
    assert segment.endswith(".avif")
    encoded = segment.removesuffix(".avif")
    assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)) == b"s3://bucket/k.jpg"


def test_srcset_lists_each_width(builder: UrlBuilder) -> None:
    srcset = builder.srcset("originals/cat.jpg", [150, 500, 1200], format="webp")
    entries = [entry.rsplit(" ", 1) for entry in srcset.split(", ")]
    assert [descriptor for _, descriptor in entries] == ["150w", "500w", "1200w"]
    assert all(f"/w:{w}/" in url for (url, _), w in zip(entries, [150, 500, 1200], strict=True))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"fit": "cover"}, "fit must be", id="bad-fit"),
        pytest.param({"format": "bmp"}, "format must be", id="bad-format"),
        pytest.param({"quality": 0}, "quality must be", id="bad-quality"),
        pytest.param({"width": -1}, "must not be negative", id="negative"),
        pytest.param({"options": ["nocolon"]}, "option segment", id="bad-segment"),
    ],
)
def test_bad_arguments(builder: UrlBuilder, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        builder.url("originals/cat.jpg", **kwargs)  # type: ignore[arg-type]


def test_repr_hides_key(builder: UrlBuilder) -> None:
    assert KEY not in repr(builder) and "<hidden>" in repr(builder)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"ext": "jpg"}, "https://img.example.com/img_a1.jpg", id="original"),
        pytest.param({}, "https://img.example.com/img_a1", id="negotiated"),
        pytest.param(
            {"size": "small", "ext": "png"}, "https://img.example.com/img_a1_s.png", id="small"
        ),
        pytest.param({"size": "t"}, "https://img.example.com/img_a1_t", id="tiny-code"),
    ],
)
def test_direct_links(builder: UrlBuilder, kwargs: dict[str, Any], expected: str) -> None:
    assert builder.direct_url("img_a1", **kwargs) == expected


def test_direct_query_form_is_signed_over_the_canonical_target(builder: UrlBuilder) -> None:
    url = builder.direct_url("img_a1", ext="jpg", width=800, fit="cover", format="webp", quality=85)
    path, _, query = url.removeprefix("https://img.example.com").partition("?")
    parameters = dict(pair.split("=", 1) for pair in query.split("&"))
    signature = parameters.pop("s")
    assert parameters == {"w": "800", "fit": "cover", "fmt": "webp", "q": "85"}
    assert builder.verify(signature, f"{path}?w=800&fit=cover&fmt=webp&q=85")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"size": "huge"}, "size must be", id="bad-size"),
        pytest.param({"fit": "fit", "width": 5}, "fit must be", id="bad-fit"),
        pytest.param({"size": "s", "width": 5}, "named size", id="size-and-width"),
    ],
)
def test_direct_link_errors(builder: UrlBuilder, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        builder.direct_url("img_a1", **kwargs)


def test_direct_srcset(builder: UrlBuilder) -> None:
    assert builder.direct_srcset("img_a1", ext="webp") == (
        "https://img.example.com/img_a1_s.webp 150w, "
        "https://img.example.com/img_a1_m.webp 500w, "
        "https://img.example.com/img_a1_l.webp 1200w"
    )
