"""The Locust gate: its verdicts, and a short real run through the edge."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from loadtest import loadrun
from loadtest.loadrun import Outcome, read_outcome, verdict

GATE = argparse.Namespace(max_error_rate=0.001, max_p99_ms=2000.0)


@pytest.mark.parametrize(
    ("outcome", "problems"),
    [
        pytest.param(Outcome("pixgate", 10000, 10, 5, 1999, 100), [], id="at-the-limit"),
        pytest.param(Outcome("pixgate", 10000, 11, 5, 100, 100), ["error rate"], id="errors"),
        pytest.param(Outcome("edge", 100, 0, 5, 2001, 100), ["p99"], id="slow"),
        pytest.param(Outcome("edge", 0, 0, 0, 0, 0), ["no request", "error rate"], id="empty"),
    ],
)
def test_verdict(outcome: Outcome, problems: list[str]) -> None:
    found = verdict(outcome, GATE)
    assert len(found) == len(problems)
    assert all(f.startswith(p) for f, p in zip(found, problems, strict=True))


def test_read_outcome(tmp_path: Path) -> None:
    stats = tmp_path / "x_stats.csv"
    stats.write_text(
        "Type,Name,Request Count,Failure Count,50%,99%,Requests/s\n"
        "GET,/a,10,1,5,90,2.5\n"
        ",Aggregated,20,1,6,95,5.0\n"
    )
    assert read_outcome("edge", stats) == Outcome("edge", 20, 1, 6.0, 95.0, 5.0)


def test_short_mixed_run_through_the_edge(capsys: pytest.CaptureFixture[str]) -> None:
    """pixgate, nginx and Locust for real, briefly: zero errors, and reports written."""
    status = loadrun.main(
        [
            "--duration",
            "6",
            "--users",
            "4",
            "--images",
            "2",
            "--target",
            "edge",
            "--max-p99-ms",
            "60000",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "edge     mixed:" in out and "0 failed" in out
    assert (loadrun.REPORTS / "edge-mixed.html").exists()
