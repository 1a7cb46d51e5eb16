"""Choose the output format: the one the URL asks for, else the best the client accepts.

Only an explicit `image/avif` or `image/webp` in Accept selects those formats: browsers that
send just `*/*` or `image/*` are not known to decode them. A q-value of 0 refuses a type,
even when it is also listed with a positive q or covered by a wildcard.
"""

from __future__ import annotations

from proxy.options import OutputFormat
from proxy.probe import SourceFormat, SourceInfo

_AVIF = "image/avif"
_WEBP = "image/webp"


def choose_format(
    requested: OutputFormat | None, accept: str, source: SourceInfo
) -> tuple[OutputFormat, bool]:
    """The output format and whether it was negotiated from `accept`.

    A negotiated answer depends on the request's Accept header, so the response must carry
    `Vary: Accept`. An explicit `requested` format is never second-guessed (an AVIF asked
    for an animated source is rendered from its first frame).
    """
    if requested is not None:
        return requested, False
    accepted = accepted_types(accept)
    if source.animated:
        # libvips writes an animation's frames to AVIF as separate items, not an `avis`
        # sequence browsers play: keep the animation in WebP or GIF.
        return (OutputFormat.WEBP if _WEBP in accepted else OutputFormat.GIF), True
    if _AVIF in accepted:
        return OutputFormat.AVIF, True
    if _WEBP in accepted:
        return OutputFormat.WEBP, True
    return fallback_format(source), True


def accept_class(requested: OutputFormat | None, accept: str) -> str:
    """A short key for everything in `accept` that `choose_format` looks at.

    Two requests with the same key get the same format for any source, so the key can be
    part of an ETag or a cache key before the source is read: "" when the URL names the
    format, else "avif+webp", "avif", "webp" or "none".
    """
    if requested is not None:
        return ""
    accepted = accepted_types(accept)
    names = [name for name, media in (("avif", _AVIF), ("webp", _WEBP)) if media in accepted]
    return "+".join(names) or "none"


def fallback_format(source: SourceInfo) -> OutputFormat:
    """The format every client reads that best keeps what the source has."""
    if source.format is SourceFormat.GIF:
        return OutputFormat.GIF
    if source.format is SourceFormat.PNG or source.has_alpha:
        return OutputFormat.PNG
    return OutputFormat.JPEG


def accepted_types(accept: str) -> frozenset[str]:
    """Media types named explicitly in an Accept header with a q-value above 0.

    Wildcards are dropped: they never select a modern format here. A type listed more than
    once is refused if any of its entries has q=0 (the stricter reading of a confused header).
    """
    accepted: set[str] = set()
    refused: set[str] = set()
    for entry in accept.split(","):
        media_type, _, params = entry.partition(";")
        media_type = media_type.strip().lower()
        if not media_type or "*" in media_type:
            continue
        if _quality(params) > 0:
            accepted.add(media_type)
        else:
            refused.add(media_type)
    return frozenset(accepted - refused)


def _quality(params: str) -> float:
    """The q parameter of one Accept entry (1 when absent, 0 when malformed)."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0
