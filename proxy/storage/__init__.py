"""Storage backends, by URL scheme: an explicit registry and one way to open them.

`BACKENDS` maps a scheme to a factory that opens the backend as an async context manager.
`open_storages` opens the backends a deployment needs (once each) and closes them together;
the app enters it from its cleanup_ctx.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from types import MappingProxyType

from proxy.storage.base import (
    SourceBlob,
    SourceLocation,
    SourceStat,
    Storage,
    StorageSettings,
)
from proxy.storage.local import LocalStorage
from proxy.storage.s3 import open_s3_storage

__all__ = [
    "BACKENDS",
    "BackendFactory",
    "SourceBlob",
    "SourceLocation",
    "SourceStat",
    "Storage",
    "StorageSettings",
    "open_storages",
]

BackendFactory = Callable[[StorageSettings, tuple[str, ...]], AbstractAsyncContextManager[Storage]]
"""Opens one backend from the storage settings and the `file` roots."""


@contextlib.asynccontextmanager
async def _open_local(
    settings: StorageSettings, file_roots: tuple[str, ...]
) -> AsyncIterator[Storage]:
    yield LocalStorage(file_roots)


def _open_s3(
    settings: StorageSettings, file_roots: tuple[str, ...]
) -> AbstractAsyncContextManager[Storage]:
    return open_s3_storage(settings)


BACKENDS: Mapping[str, BackendFactory] = MappingProxyType({"file": _open_local, "s3": _open_s3})


@contextlib.asynccontextmanager
async def open_storages(
    schemes: Iterable[str], settings: StorageSettings, file_roots: tuple[str, ...]
) -> AsyncIterator[dict[str, Storage]]:
    """Open one backend per scheme in `schemes`; close every opened one on exit.

    Raises ValueError naming the first unknown scheme, before opening anything.
    """
    wanted = list(dict.fromkeys(schemes))
    for scheme in wanted:
        if scheme not in BACKENDS:
            known = ", ".join(sorted(BACKENDS))
            raise ValueError(f"unknown storage scheme {scheme!r} (known: {known})")
    async with contextlib.AsyncExitStack() as stack:
        yield {
            scheme: await stack.enter_async_context(BACKENDS[scheme](settings, file_roots))
            for scheme in wanted
        }
