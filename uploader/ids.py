"""New image ids for uploads.

An id is ``img_`` followed by 20 random base62 characters (about 119 bits from `secrets`), so
ids cannot be guessed or enumerated. The grammar itself lives in `proxy.ids`, which the direct
links share.
"""

from __future__ import annotations

import secrets
import string

from proxy.ids import ID_PREFIX, ID_RANDOM_LENGTH

_ALPHABET = string.ascii_letters + string.digits


def new_image_id() -> str:
    """A fresh random image id."""
    return ID_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(ID_RANDOM_LENGTH))
