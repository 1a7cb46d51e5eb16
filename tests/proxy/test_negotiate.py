"""choose_format / accept_class: the URL's format wins, else the best the client accepts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.negotiate import accept_class, accepted_types, choose_format
from proxy.options import OutputFormat
from proxy.probe import SourceFormat, SourceInfo

JPEG_SRC = SourceInfo(SourceFormat.JPEG, 400, 300)
PNG_SRC = SourceInfo(SourceFormat.PNG, 400, 300)
ALPHA_PNG_SRC = SourceInfo(SourceFormat.PNG, 400, 300, has_alpha=True)
GIF_STILL_SRC = SourceInfo(SourceFormat.GIF, 40, 30, has_alpha=True)
GIF_ANIM_SRC = SourceInfo(SourceFormat.GIF, 40, 30, has_alpha=True, pages=4)
WEBP_SRC = SourceInfo(SourceFormat.WEBP, 400, 300)
WEBP_ALPHA_SRC = SourceInfo(SourceFormat.WEBP, 400, 300, has_alpha=True)
WEBP_ANIM_SRC = SourceInfo(SourceFormat.WEBP, 40, 30, pages=3)
TIFF_SRC = SourceInfo(SourceFormat.TIFF, 400, 300)
AVIF_SRC = SourceInfo(SourceFormat.AVIF, 400, 300)

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
SAFARI_OLD = "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
WEBP_ONLY = "image/webp,*/*"

J, P, W, A, G = (
    OutputFormat.JPEG,
    OutputFormat.PNG,
    OutputFormat.WEBP,
    OutputFormat.AVIF,
    OutputFormat.GIF,
)

CASES = {
    # explicit format: never negotiated, never second-guessed
    "requested-wins": (P, CHROME, JPEG_SRC, P, False),
    "requested-avif-for-animation": (A, CHROME, GIF_ANIM_SRC, A, False),
    "requested-jpeg-without-accept": (J, "", ALPHA_PNG_SRC, J, False),
    # negotiated
    "chrome-gets-avif": (None, CHROME, JPEG_SRC, A, True),
    "webp-only-client": (None, WEBP_ONLY, JPEG_SRC, W, True),
    "star-alone-is-not-avif": (None, "*/*", JPEG_SRC, J, True),
    "image-star-is-not-webp": (None, "image/*", JPEG_SRC, J, True),
    "empty-accept": (None, "", JPEG_SRC, J, True),
    "old-safari-jpeg": (None, SAFARI_OLD, JPEG_SRC, J, True),
    "avif-q0-falls-to-webp": (None, "image/avif;q=0,image/webp", JPEG_SRC, W, True),
    "avif-low-q-still-avif": (None, "image/webp;q=1,image/avif;q=0.1", JPEG_SRC, A, True),
    # fallbacks keep what the source has
    "png-stays-png": (None, "*/*", PNG_SRC, P, True),
    "alpha-png-stays-png": (None, "*/*", ALPHA_PNG_SRC, P, True),
    "gif-still-stays-gif": (None, "*/*", GIF_STILL_SRC, G, True),
    "webp-source-without-webp-is-jpeg": (None, "*/*", WEBP_SRC, J, True),
    "webp-alpha-source-is-png": (None, "*/*", WEBP_ALPHA_SRC, P, True),
    "tiff-is-jpeg": (None, "*/*", TIFF_SRC, J, True),
    "avif-source-for-old-client-is-jpeg": (None, SAFARI_OLD, AVIF_SRC, J, True),
    # animations never become AVIF
    "animated-gif-chrome-gets-webp": (None, CHROME, GIF_ANIM_SRC, W, True),
    "animated-gif-avif-only-gets-gif": (None, "image/avif", GIF_ANIM_SRC, G, True),
    "animated-gif-old-client-gets-gif": (None, "*/*", GIF_ANIM_SRC, G, True),
    "animated-webp-webp-client": (None, WEBP_ONLY, WEBP_ANIM_SRC, W, True),
    "animated-webp-old-client-gets-gif": (None, "*/*", WEBP_ANIM_SRC, G, True),
    "still-gif-chrome-gets-avif": (None, CHROME, GIF_STILL_SRC, A, True),
}


@pytest.mark.parametrize(
    ("requested", "accept", "source", "expected", "negotiated"),
    CASES.values(),
    ids=CASES.keys(),
)
def test_choose_format(
    requested: OutputFormat | None,
    accept: str,
    source: SourceInfo,
    expected: OutputFormat,
    negotiated: bool,
) -> None:
    assert choose_format(requested, accept, source) == (expected, negotiated)


ACCEPT_CASES = {
    "plain-list": ("image/avif,image/webp", {"image/avif", "image/webp"}),
    "wildcards-dropped": ("*/*,image/*", set()),
    "q-zero-refuses": ("image/webp;q=0", set()),
    "q-zero-point-zero": ("image/webp; q=0.0", set()),
    "q-positive": ("image/webp;q=0.001", {"image/webp"}),
    "case-and-spaces": ("  Image/WebP ; Q=0.5 ,IMAGE/AVIF", {"image/webp", "image/avif"}),
    "other-params-ignored": ("image/webp;level=1;q=0.9", {"image/webp"}),
    "malformed-q-refuses": ("image/webp;q=abc", set()),
    "q-above-1-refuses": ("image/webp;q=2", set()),
    "refusal-beats-repeat": ("image/webp,image/webp;q=0", set()),
    "empty-entries": (",,image/webp,,", {"image/webp"}),
}


@pytest.mark.parametrize(("accept", "expected"), ACCEPT_CASES.values(), ids=ACCEPT_CASES.keys())
def test_accepted_types(accept: str, expected: set[str]) -> None:
    assert accepted_types(accept) == expected


CLASS_CASES = {
    "requested": (J, CHROME, ""),
    "chrome": (None, CHROME, "avif+webp"),
    "avif-only": (None, "image/avif", "avif"),
    "webp-only": (None, WEBP_ONLY, "webp"),
    "neither": (None, SAFARI_OLD, "none"),
    "empty": (None, "", "none"),
}


@pytest.mark.parametrize(
    ("requested", "accept", "expected"), CLASS_CASES.values(), ids=CLASS_CASES.keys()
)
def test_accept_class(requested: OutputFormat | None, accept: str, expected: str) -> None:
    assert accept_class(requested, accept) == expected


_CANONICAL_ACCEPT = {
    "avif+webp": "image/avif,image/webp",
    "avif": "image/avif",
    "webp": "image/webp",
    "none": "*/*",
}
SOURCES = [JPEG_SRC, ALPHA_PNG_SRC, GIF_STILL_SRC, GIF_ANIM_SRC, WEBP_ANIM_SRC, TIFF_SRC]
accept_entries = st.one_of(
    st.sampled_from(["image/avif", "image/webp", "*/*", "image/*", "image/png", ""]),
    st.text(max_size=20),
)
params = st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=x", ";level=2", ";q="])


@given(
    entries=st.lists(st.tuples(accept_entries, params), max_size=6),
    source=st.sampled_from(SOURCES),
)
def test_any_accept_header_gives_the_format_of_its_class(
    entries: list[tuple[str, str]], source: SourceInfo
) -> None:
    accept = ",".join(media + param for media, param in entries)
    chosen, negotiated = choose_format(None, accept, source)
    assert negotiated is True
    # The class is all the format depends on: an ETag keyed on it is safe.
    canonical = _CANONICAL_ACCEPT[accept_class(None, accept)]
    assert choose_format(None, canonical, source) == (chosen, True)
    if source.animated:
        assert chosen is not OutputFormat.AVIF


# The Accept the edge sends pixgate for each of its classes (config/edge/nginx.conf).
EDGE_CLASSES = {
    "avif": ("image/avif,image/webp,*/*", OutputFormat.WEBP),
    "webp": ("image/webp,*/*", OutputFormat.WEBP),
    "other": ("*/*", OutputFormat.GIF),
}


@pytest.mark.parametrize(("accept", "expected"), EDGE_CLASSES.values(), ids=EDGE_CLASSES.keys())
def test_animations_through_the_edge_classes(accept: str, expected: OutputFormat) -> None:
    """Each class the edge keys its cache on gets one animated format: never AVIF, which
    libvips cannot write as a sequence; and a still of the animation is a still's format."""
    animation = SourceInfo(SourceFormat.GIF, 40, 30, has_alpha=True, pages=12)
    assert choose_format(None, accept, animation) == (expected, True)
    still = SourceInfo(SourceFormat.GIF, 40, 30, has_alpha=True)
    assert choose_format(None, accept, still)[0] is not OutputFormat.GIF or accept == "*/*"
