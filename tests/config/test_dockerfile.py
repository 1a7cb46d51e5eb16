"""The container image carries every package the distribution installs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _installed_packages() -> list[str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return [pattern.removesuffix("*") for pattern in patterns]


@pytest.mark.parametrize("package", _installed_packages())
def test_the_image_copies_each_installed_package(package: str) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.MULTILINE)
    assert (ROOT / package / "__init__.py").is_file()
