"""Telling the edge cache that an image is gone.

After a delete, every fixed direct link of the image (each size, each extension, each
`Accept` class) is purged from an nginx-style purge endpoint at `PIXGATE_PURGE_URL`:
``GET {PIXGATE_PURGE_URL}/{avif|webp|other}/{path}`` (the edge of config/edge/nginx.conf).
CDNs that purge by tag use the `Cache-Tag`/`Surrogate-Key` header pixgate puts on every
variant of an uploaded image instead. Purging is best effort: a failure is logged and the
delete still succeeds (the CDN then serves the old copy until it expires).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import aiohttp

from proxy.options import FORMAT_EXTENSIONS

log = logging.getLogger("pixgate.purge")

ACCEPT_CLASSES = ("avif", "webp", "other")
SIZE_SUFFIXES = ("", "_s", "_m", "_l", "_t")
_PARALLEL_PURGES = 8


def fixed_paths(image_id: str) -> Iterator[str]:
    """Every unsigned direct link of `image_id`: original and sizes, with any extension."""
    for suffix in SIZE_SUFFIXES:
        yield f"/{image_id}{suffix}"
        for ext in FORMAT_EXTENSIONS:
            yield f"/{image_id}{suffix}.{ext}"


class EdgePurger:
    def __init__(self, purge_url: str, session: aiohttp.ClientSession) -> None:
        self._purge_url = purge_url.rstrip("/")
        self._session = session

    async def purge(self, image_id: str) -> int:
        """Purge every fixed variant; return how many the edge held."""
        slots = asyncio.Semaphore(_PARALLEL_PURGES)

        async def purge_one(url: str) -> bool:
            async with slots, self._session.get(url) as response:
                return response.status == 200  # 404: that variant was not cached

        urls = [
            f"{self._purge_url}/{accept_class}{path}"
            for path in fixed_paths(image_id)
            for accept_class in ACCEPT_CLASSES
        ]
        try:
            results = await asyncio.gather(*(purge_one(url) for url in urls))
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("edge purge failed", extra={"image_id": image_id, "error": repr(error)})
            return 0
        purged = sum(results)
        log.info("edge purged", extra={"image_id": image_id, "variants": purged})
        return purged
