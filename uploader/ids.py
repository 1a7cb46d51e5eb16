"""Public identifiers of uploaded images.

An id is ``img_`` followed by 20 random base62 characters (about 119 bits from `secrets`), so
ids cannot be guessed or enumerated. Letters and digits only: a size suffix such as
``img_..._s`` in a direct link is never part of an id.
"""

from __future__ import annotations

import re
import secrets
import string

ID_PREFIX = "img_"
ID_RANDOM_LENGTH = 20
_ALPHABET = string.ascii_letters + string.digits

# Unanchored, to embed in route patterns (aiohttp: "/{image_id:" + IMAGE_ID_REGEX + "}").
IMAGE_ID_REGEX = f"{ID_PREFIX}[A-Za-z0-9]{{{ID_RANDOM_LENGTH}}}"
# Anchored, so match/search/fullmatch all mean "the whole text is an id".
IMAGE_ID_PATTERN = re.compile(rf"\A{IMAGE_ID_REGEX}\Z")


def new_image_id() -> str:
    """A fresh random image id."""
    return ID_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(ID_RANDOM_LENGTH))


def is_image_id(text: object) -> bool:
    """Whether `text` is exactly an image id (anything else, of any type, is not)."""
    return isinstance(text, str) and IMAGE_ID_PATTERN.match(text) is not None
