"""read_capped: the whole stream up to the limit; past it, TooLarge before reading on."""

from __future__ import annotations

import pytest

from proxy.capped import read_capped
from proxy.errors import TooLarge


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"more than {limit} bytes")


@pytest.mark.parametrize(
    ("chunks", "limit", "expected", "chunks_read"),
    [
        pytest.param([], 10, b"", 1, id="empty"),
        pytest.param([b"abc", b"de"], 10, b"abcde", 3, id="under-the-limit"),
        pytest.param([b"abcde", b"fghij"], 10, b"abcdefghij", 3, id="exactly-the-limit"),
        pytest.param([b"abcde", b"fghijk", b"never"], 10, None, 2, id="over-stops-reading"),
    ],
)
async def test_read_capped(
    chunks: list[bytes], limit: int, expected: bytes | None, chunks_read: int
) -> None:
    pending = [*chunks, b""]
    read = 0

    async def read_chunk() -> bytes:
        nonlocal read
        read += 1
        return pending.pop(0)

    if expected is None:
        with pytest.raises(TooLarge, match="more than 10 bytes"):
            await read_capped(read_chunk, limit, _too_large)
    else:
        assert await read_capped(read_chunk, limit, _too_large) == expected
    assert read == chunks_read
