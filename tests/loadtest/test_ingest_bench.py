"""The ingestion benchmark, in miniature: every format's generated log is read without a
skipped line, views are counted, and the report is written as JSON and markdown."""

from __future__ import annotations

import json
from pathlib import Path

from loadtest.ingest_bench import main


def test_a_small_run_reports_every_format(tmp_path: Path) -> None:
    output = tmp_path / "ingest.json"
    arguments = ["--lines", "4000", "--images", "200", "--no-postgres", "--output", str(output)]
    assert main(arguments) == 0
    report = json.loads(output.read_text())
    rows = report["rows"]
    assert [(row["format"], row["lines"]) for row in rows] == [
        ("nginx", 1000),
        ("nginx", 4000),
        ("cloudfront", 4002),  # its two header lines
        ("cloudflare", 4000),
    ]
    for row in rows:
        assert row["skipped"] == 0
        assert 0.8 * row["lines"] < row["views"] < row["lines"]
        assert row["lines_per_cpu_second"] > 0 and row["ratio_to_baseline"] > 0
        assert row["rss_peak_mib"] >= row["rss_start_mib"] > 0
    assert "| nginx | sqlite |" in output.with_suffix(".md").read_text()
