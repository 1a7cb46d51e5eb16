"""Image ids: random, unguessable, letters and digits only, recognised exactly."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.ids import IMAGE_ID_PATTERN, IMAGE_ID_REGEX, is_image_id
from uploader.ids import new_image_id

VALID = "img_" + "aZ09" * 5


def test_new_ids_have_the_documented_shape() -> None:
    ids = [new_image_id() for _ in range(2000)]
    assert all(len(image_id) == 24 and image_id.startswith("img_") for image_id in ids)
    assert all(is_image_id(image_id) for image_id in ids)
    assert len(set(ids)) == len(ids)
    used = set("".join(image_id[4:] for image_id in ids))
    # Letters of both cases and digits all turn up: the whole base62 alphabet is in use.
    assert used == set(string.ascii_letters + string.digits)


RECOGNITION_CASES = {
    "valid": (VALID, True),
    "too-short": (VALID[:-1], False),
    "too-long": (VALID + "a", False),
    "size-suffix": (VALID + "_s", False),
    "no-prefix": (VALID[4:], False),
    "upper-prefix": ("IMG_" + VALID[4:], False),
    "underscore-inside": (VALID[:-1] + "_", False),
    "dash-inside": (VALID[:-1] + "-", False),
    "trailing-newline": (VALID + "\n", False),
    "leading-space": (" " + VALID, False),
    "unicode-digits": ("img_" + "\u0663" * 20, False),
    "fullwidth-letters": ("img_" + "\uff41" * 20, False),
    "empty": ("", False),
    "bytes": (VALID.encode(), False),
    "none": (None, False),
}


@pytest.mark.parametrize(
    ("text", "expected"), RECOGNITION_CASES.values(), ids=RECOGNITION_CASES.keys()
)
def test_is_image_id(text: object, expected: bool) -> None:
    assert is_image_id(text) is expected


def test_pattern_is_anchored_whatever_the_method() -> None:
    assert IMAGE_ID_PATTERN.match(VALID + "_s") is None
    assert IMAGE_ID_PATTERN.search("x" + VALID) is None
    assert IMAGE_ID_PATTERN.fullmatch(VALID) is not None


SUFFIX_CASES = {
    "bare": (f"/i/{VALID}.jpg", VALID, None),
    "size-s": (f"/i/{VALID}_s.jpg", VALID, "s"),
    "size-l": (f"/i/{VALID}_l.webp", VALID, "l"),
}


@pytest.mark.parametrize(
    ("path", "image_id", "size"), SUFFIX_CASES.values(), ids=SUFFIX_CASES.keys()
)
def test_regex_embeds_in_a_route_with_an_unambiguous_size_suffix(
    path: str, image_id: str, size: str | None
) -> None:
    route = re.compile(rf"/i/(?P<id>{IMAGE_ID_REGEX})(?:_(?P<size>[a-z]))?\.(?:jpg|webp)")
    match = route.fullmatch(path)
    assert match is not None
    assert (match["id"], match["size"]) == (image_id, size)


@given(st.text(max_size=40))
def test_is_image_id_agrees_with_a_plain_ascii_reading(text: str) -> None:
    expected = (
        len(text) == 24
        and text.startswith("img_")
        and all(char in string.ascii_letters + string.digits for char in text[4:])
    )
    assert is_image_id(text) is expected
