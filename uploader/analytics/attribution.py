"""Which uploaded image a request URI shows, read with the proxy's own URL grammars.

- direct links, ``/{image_id}[_{s|m|l|t}][.{ext}]`` and their signed query form: the id is in
  the path (`proxy.direct.DIRECT_PATH`);
- signed imgproxy-style URLs: the source is parsed as the proxy parses it
  (`proxy.urlpath.parse_target`) and resolved against the storage
  (`proxy.sources.resolve_source`); it is an uploaded original when it is where the proxy
  keeps one (`proxy.ids.storage_key_for`): ``originals/img_...``, whichever spelling
  (plain, base64, ``local:///``, ``s3://``) the URL used.

Signatures are not checked: the edge's status already says whether the proxy accepted the
URL, and only successful requests are attributed. A direct link costs one regular
expression; the answers for other URIs, which cost a parse, are kept in a bounded cache
(a site's signed URLs repeat: a few sizes and formats of each image).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from proxy.direct import DIRECT_PATH
from proxy.errors import PixgateError
from proxy.ids import is_image_id, storage_key_for
from proxy.sources import resolve_source
from proxy.urlpath import parse_target

__all__ = ["Attributor"]

DEFAULT_CACHE_SIZE = 65536


class Attributor:
    """`image_id(uri)`: the id of the uploaded image `uri` shows, or None."""

    def __init__(
        self,
        storage_url: str,
        allowed_sources: tuple[str, ...],
        presets: Mapping[str, tuple[str, ...]],
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._storage_url = storage_url
        self._allowed_sources = allowed_sources
        self._presets = presets
        self._signed = lru_cache(maxsize=cache_size)(self._signed_source_id)

    def image_id(self, uri: str) -> str | None:
        path = uri.partition("?")[0]
        direct = DIRECT_PATH.fullmatch(path)
        if direct is not None:
            return direct.group(1)
        if "/" not in path[1:]:
            return None  # neither a direct link nor /{signature}/...: a page or an asset
        return self._signed(uri)

    def cache_info(self) -> tuple[int, int, int | None, int]:
        """(hits, misses, maxsize, currsize) of the signed-URL cache."""
        info = self._signed.cache_info()
        return (info.hits, info.misses, info.maxsize, info.currsize)

    def _signed_source_id(self, uri: str) -> str | None:
        try:
            target = parse_target(uri, self._presets)
            location = resolve_source(target.source, self._storage_url, self._allowed_sources)
        except PixgateError:
            return None
        candidate = location.key.rpartition("/")[2]
        if not is_image_id(candidate):
            return None
        original = resolve_source(
            storage_key_for(candidate), self._storage_url, self._allowed_sources
        )
        return candidate if location == original else None
