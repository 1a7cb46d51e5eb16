"""Direct links: ``/{image_id}[_{size}][.{ext}]`` and their signed query form.

The fixed sizes need no signature. Arbitrary transforms use query parameters signed over
a canonical form (fixed parameter order, no ``s``), so parameter order on the wire does
not matter and the proxy rebuilds exactly what was signed.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Named sizes: suffix → (box edge in pixels, description).
DIRECT_SIZES: Mapping[str, int] = {"s": 150, "m": 500, "l": 1200, "t": 32}
SIZE_NAMES: Mapping[str, str] = {"small": "s", "medium": "m", "large": "l", "tiny": "t"}
#: `fit` values of the query form (sharp's names): crop and cover fill the box and crop,
#: contain fits inside and pads, fill stretches.
DIRECT_FITS = ("crop", "contain", "cover", "fill")
#: Query parameters of the signed form, in canonical order; `s` carries the signature.
QUERY_PARAMETERS = ("w", "h", "fit", "fmt", "q")
SIGNATURE_PARAMETER = "s"


def direct_path(image_id: str, *, size: str | None = None, ext: str | None = None) -> str:
    """``/{image_id}[_{size}][.{ext}]``; `size` is a suffix (s, m, l, t) or its name."""
    suffix = ""
    if size is not None:
        code = SIZE_NAMES.get(size, size)
        if code not in DIRECT_SIZES:
            raise ValueError(f"size must be one of {', '.join(SIZE_NAMES)}, got {size!r}")
        suffix = f"_{code}"
    return f"/{image_id}{suffix}" + (f".{ext}" if ext else "")


def canonical_direct_target(path: str, parameters: Mapping[str, str]) -> str:
    """What the query form's signature covers: the path, then the transform parameters
    in canonical order (those present, values as sent), without the signature."""
    query = "&".join(
        f"{name}={parameters[name]}" for name in QUERY_PARAMETERS if name in parameters
    )
    return f"{path}?{query}"
