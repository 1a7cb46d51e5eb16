"""proxy.server: the process-level allocator bound of a running server."""

from __future__ import annotations

import pytest

from proxy.server import limit_malloc_arenas


@pytest.mark.parametrize(
    ("environment", "limited"),
    [
        pytest.param({}, True, id="glibc-default"),
        pytest.param({"MALLOC_ARENA_MAX": "4"}, False, id="operator-chose"),
    ],
)
def test_malloc_arenas_are_bounded_unless_the_operator_chose(
    environment: dict[str, str], limited: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert limit_malloc_arenas() is limited
