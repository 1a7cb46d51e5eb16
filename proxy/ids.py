"""The image id grammar and where an uploaded original is stored.

The proxy serves direct links (``/img_..._m``) for uploaded originals, so the id pattern and the
storage key of an id belong to the core; the uploader only mints new ids (`uploader.ids`).

An id is ``img_`` followed by 20 base62 characters. Letters and digits only: a size suffix such
as ``img_..._s`` in a direct link is never part of an id.
"""

from __future__ import annotations

import re

ID_PREFIX = "img_"
ID_RANDOM_LENGTH = 20

# Unanchored, to embed in route patterns (aiohttp: "/{image_id:" + IMAGE_ID_REGEX + "}").
IMAGE_ID_REGEX = f"{ID_PREFIX}[A-Za-z0-9]{{{ID_RANDOM_LENGTH}}}"
# Anchored, so match/search/fullmatch all mean "the whole text is an id".
IMAGE_ID_PATTERN = re.compile(rf"\A{IMAGE_ID_REGEX}\Z")


def is_image_id(text: object) -> bool:
    """Whether `text` is exactly an image id (anything else, of any type, is not)."""
    return isinstance(text, str) and IMAGE_ID_PATTERN.match(text) is not None


def storage_key_for(image_id: str) -> str:
    """Where the original of `image_id` is stored, relative to the storage root."""
    return f"originals/{image_id}"
