"""The sample photo of `pixgate serve --dev` and the example URLs printed for it."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from config import Settings
from config.storage_url import parse_storage_url

SAMPLE_KEY = "samples/sample.jpg"


def seed_sample(settings: Settings) -> None:
    """Put the bundled sample photo into local storage so the printed URLs work."""
    root = parse_storage_url(settings.storage_url)
    if root.scheme != "file":
        return
    target = Path(root.key) / SAMPLE_KEY
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with resources.as_file(resources.files("proxy") / "assets" / "sample.jpg") as sample:
            shutil.copyfile(sample, target)


def example_urls(settings: Settings) -> dict[str, str]:
    builder = settings.url_builder()
    return {
        "original, negotiated format": builder.url(SAMPLE_KEY),
        "800px wide WebP": builder.url(SAMPLE_KEY, width=800, format="webp", quality=80),
        "300x300 smart crop AVIF": builder.url(
            SAMPLE_KEY, width=300, height=300, fit="fill", format="avif", options=["g:sm"]
        ),
        "small (150)": builder.url(SAMPLE_KEY, width=150, height=150, fit="fit"),
        "tiny blurred placeholder": builder.url(
            SAMPLE_KEY, width=32, height=32, fit="fit", quality=40, options=["bl:2"]
        ),
        "srcset": builder.srcset(SAMPLE_KEY, [150, 500, 1200]),
    }
