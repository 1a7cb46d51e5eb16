"""Reading a stream whole, but never more than a limit (sources from S3, upload fields)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from proxy.errors import TooLarge


async def read_capped(
    read_chunk: Callable[[], Awaitable[bytes]],
    limit: int,
    too_large: Callable[[int], TooLarge],
) -> bytes:
    """The chunks `read_chunk` returns until it returns b"", joined. `too_large(limit)` is
    raised as soon as they pass `limit` bytes, so the rest of the stream is never read."""
    chunks: list[bytes] = []
    total = 0
    while chunk := await read_chunk():
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
