"""The error hierarchy: every code a client can get is in the README's table, with its
status; the refusals of source images are classes of their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proxy.errors import (
    CorruptImage,
    PixgateError,
    SourceTooLarge,
    Unprocessable,
    UnsupportedCoding,
    UnsupportedMedia,
)

ROOT = Path(__file__).resolve().parents[2]
# `code = "x"` on a class, `code="x"` where one is raised.
_CODE = re.compile(r"""\bcode\s*=\s*"([a-z0-9_]+)\"""")
_ROW = re.compile(r"^\| (\d{3}) \| ([^|]+) \|", re.MULTILINE)


def _readme_codes() -> dict[str, set[int]]:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| Status | Code | When |") :]
    table = table[: table.index("\n\n")]
    codes: dict[str, set[int]] = {}
    for status, cell in _ROW.findall(table):
        for code in re.findall(r"`([a-z0-9_]+)`", cell):
            codes.setdefault(code, set()).add(int(status))
    return codes


def _source_codes() -> set[str]:
    found: set[str] = set()
    for package in ("proxy", "uploader"):
        for path in (ROOT / package).rglob("*.py"):
            found.update(_CODE.findall(path.read_text()))
    return found - {"unavailable"}  # Unavailable's default: every raise names its own


def test_every_error_code_is_in_the_readme_table() -> None:
    documented = _readme_codes()
    assert _source_codes() <= set(documented), _source_codes() - set(documented)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        pytest.param(UnsupportedMedia("x"), 415, "unsupported_format", id="unsupported"),
        pytest.param(UnsupportedCoding("x"), 415, "unsupported_format", id="coding"),
        pytest.param(CorruptImage("x"), 422, "corrupt_image", id="corrupt"),
        pytest.param(SourceTooLarge("x"), 422, "source_too_large", id="too-many-pixels"),
        pytest.param(Unprocessable("x"), 422, "unprocessable", id="unprocessable"),
    ],
)
def test_source_refusals(error: PixgateError, status: int, code: str) -> None:
    assert (error.status, error.code) == (status, code)
    assert status in _readme_codes()[code]
