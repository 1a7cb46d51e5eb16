"""The quality benchmark's quick mode on one small real photo, pixgate and libvips only
(no peers, no network): every render scored, the report and plots written."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.quality.run import main


def test_quick_run_on_one_photo(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    status = main(
        [
            "--quick",
            "--photos",
            "kodim23.png",
            "--systems",
            "pixgate,libvips",
            "--formats",
            "jpeg,webp,avif",
            "--geometries",
            "cover300",
            "--fresh",
            "--work-dir",
            str(tmp_path / "work"),
            "--docs",
            str(docs),
        ]
    )
    assert status == 0
    document = json.loads((tmp_path / "work" / "results.json").read_text())
    samples = document["samples"]
    assert {s["system"] for s in samples} == {"pixgate", "libvips"}
    assert {s["output_format"] for s in samples} == {"jpeg", "webp", "avif"}
    assert all(s["geometry"] == "cover300" for s in samples)
    assert all(s["score"] is not None and 0 < s["score"] <= 100 for s in samples)
    assert all(s["size_bytes"] > 0 and s["cpu_ms"] > 0 for s in samples)
    qualities = {s["quality"] for s in samples if s["system"] == "pixgate"}
    # q:auto is either rendered or recorded as unavailable, never a failure.
    auto_missing = any(u["quality"] == "auto" for u in document["unavailable"])
    assert ("auto" in qualities) != auto_missing
    if not auto_missing:
        # The same URL and original give the same bytes when rendered again.
        determinism = document["meta"]["q_auto_determinism"]
        assert determinism["checked"] == 3
        assert determinism["same"] == 3
    report = (docs / "quality.md").read_text()
    assert "## BD-rate of pixgate against each peer" in report
    for fmt in ("jpeg", "webp", "avif"):
        png = docs / f"quality-{fmt}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
