"""The storage registry: one backend per scheme, opened together and closed together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

import proxy.storage
from loadtest.harness.s3server import MotoServer
from proxy.storage import BACKENDS, BackendFactory, Storage, StorageSettings, open_storages
from proxy.storage.base import SourceLocation
from proxy.storage.local import LocalStorage
from proxy.storage.s3 import S3Storage


def test_registry_is_keyed_by_scheme_and_read_only() -> None:
    assert set(BACKENDS) == {"file", "s3"}
    with pytest.raises(TypeError):
        BACKENDS["ftp"] = BACKENDS["file"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("schemes", "expected"),
    [
        pytest.param([], {}, id="none"),
        pytest.param(["file"], {"file": LocalStorage}, id="file"),
        pytest.param(["s3"], {"s3": S3Storage}, id="s3"),
        pytest.param(["file", "s3", "file"], {"file": LocalStorage, "s3": S3Storage}, id="both"),
    ],
)
async def test_opens_one_backend_per_scheme(
    s3_server: MotoServer,
    s3_bucket: str,
    tmp_path: Path,
    schemes: list[str],
    expected: dict[str, type],
) -> None:
    settings = StorageSettings(s3_endpoint_url=s3_server.endpoint_url, s3_region="us-east-1")
    async with open_storages(iter(schemes), settings, (str(tmp_path),)) as storages:
        assert {scheme: type(backend) for scheme, backend in storages.items()} == expected
        if "file" in storages:
            await storages["file"].check(SourceLocation("file", "", str(tmp_path)))
        if "s3" in storages:
            await storages["s3"].check(SourceLocation("s3", s3_bucket, ""))


@pytest.mark.parametrize(
    "schemes",
    [pytest.param(["ftp"], id="alone"), pytest.param(["file", "ftp"], id="after-a-known-one")],
)
async def test_unknown_scheme_is_a_value_error_naming_it(schemes: Iterable[str]) -> None:
    with pytest.raises(ValueError, match="'ftp'"):
        async with open_storages(schemes, StorageSettings(), ()):
            pass


def recording_backend(name: str, events: list[str], *, fail: bool = False) -> BackendFactory:
    @contextlib.asynccontextmanager
    async def open_backend(
        settings: StorageSettings, file_roots: tuple[str, ...]
    ) -> AsyncIterator[Storage]:
        if fail:
            raise RuntimeError(f"{name} cannot open")
        events.append(f"open {name}")
        try:
            yield LocalStorage(file_roots)
        finally:
            events.append(f"close {name}")

    return open_backend


async def test_backends_close_in_reverse_order(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    backends = {name: recording_backend(name, events) for name in ("one", "two")}
    monkeypatch.setattr(proxy.storage, "BACKENDS", backends)

    async with open_storages(["one", "two"], StorageSettings(), ()):
        events.append("serve")

    assert events == ["open one", "open two", "serve", "close two", "close one"]


async def test_a_backend_failing_to_open_closes_those_already_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events: list[str] = []
    backends = {
        "one": recording_backend("one", events),
        "two": recording_backend("two", events, fail=True),
    }
    monkeypatch.setattr(proxy.storage, "BACKENDS", backends)

    with pytest.raises(RuntimeError, match="two cannot open"):
        async with open_storages(["one", "two"], StorageSettings(), ()):
            pytest.fail("must not serve")

    assert events == ["open one", "close one"]
