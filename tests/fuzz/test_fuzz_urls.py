"""The URL fuzz target, run for a bounded number of inputs in every test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Not imported here: the target instruments the modules it imports.
pytest.importorskip("atheris", reason="atheris has no wheel for this platform")

ROOT = Path(__file__).resolve().parents[2]
RUNS = 30_000


def test_url_fuzzing_finds_no_crash(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"  # the target writes its seeds here
    corpus.mkdir()
    # A fixed seed keeps the run reproducible; run the module by hand for open-ended fuzzing.
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz.fuzz_urls",
            f"-atheris_runs={RUNS}",
            "-seed=1",
            "-max_len=2048",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = finished.stderr[-4000:]
    assert finished.returncode == 0, report
    assert f"Done {RUNS} " in finished.stderr, report
    assert not list(tmp_path.glob("crash-*")), report
