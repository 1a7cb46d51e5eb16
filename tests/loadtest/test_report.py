"""The benchmarks' report layer: small typed results rendered as text, markdown and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from loadtest import report
from loadtest.peer_report import report as peer_report
from loadtest.peer_results import PeersMeta, PeersRun
from loadtest.peer_targets import peer_targets
from loadtest.report import Block, Column, lines, table, targets_table
from loadtest.results import FLAT, Target
from tests.loadtest.results_fixtures import MACHINE, row

COLUMNS = (Column("system", 10, "<"), Column("req/s", 7), Column("errors", 7))
ROWS = [("pixgate", "14.7", "0"), ("ipx (a|b)", "8.0", "2")]


def test_table_as_text_pads_each_column_to_its_width() -> None:
    assert report.text([table(ROWS, COLUMNS, rule=True)]) == [
        "  system      req/s errors",
        "  ------------------------",
        "  pixgate      14.7      0",
        "  ipx (a|b)     8.0      2",
    ]


def test_table_without_header_joins_cells_with_the_gap() -> None:
    columns = (Column("t", 0, "<"), Column("", 0), Column("p", 5, "<"))
    block = table([("T1", "vs", "ipx")], columns, gap=" ", header=False)
    assert report.text([lines("", "title"), block]) == ["", "title", "  T1 vs ipx  "]


def test_markdown_pipe_table_leaves_out_joining_columns() -> None:
    columns = (*COLUMNS[:1], Column("", 0), *COLUMNS[1:])
    rows = [(name, "|", rate, errors) for name, rate, errors in ROWS]
    heading = lines("", "pixgate vs peers", "  machine: 2 cores")
    blocks: list[Block] = [heading, table(rows, columns)]
    assert report.markdown(blocks) == [
        "pixgate vs peers",
        "",
        "- machine: 2 cores",
        "",
        "| system | req/s | errors |",
        "|---|---:|---:|",
        "| pixgate | 14.7 | 0 |",
        "| ipx (a\\|b) | 8.0 | 2 |",
        "",
    ]


def test_targets_table_text() -> None:
    targets = (
        Target("T1", "bare pyvips", 0.95, False, {2: 1.05, 4: 0.9}, "MISSED", {2: 0.98}, "MET"),
        Target("T3", "ipx", 1.0, True, {}, "n/a", {}, "n/a"),
    )
    assert report.text([targets_table(targets)]) == [
        "  T1 vs bare pyvips          >= 0.95x req/s x2 1.05 x4 0.90  MISSED  | CPU x2 0.98"
        "          MET",
        "  T3 vs ipx                  > 1x     req/s -                n/a     | CPU -"
        "                n/a",
    ]


@dataclass(frozen=True, slots=True)
class _Inner:
    per_second: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class _Row:
    system: str
    by_concurrency: dict[int, float]
    inner: _Inner = field(metadata=FLAT)
    rounds: tuple[float, ...] = ()


def test_json_merges_flat_fields_and_writes_no_nan() -> None:
    value = _Row("pixgate", {2: 1.5, 4: math.inf}, _Inner(14.7, math.nan), (1.0, 2.0))
    assert json.loads(report.to_json(value)) == {
        "system": "pixgate",
        "by_concurrency": {"2": 1.5, "4": None},
        "per_second": 14.7,
        "p99_ms": None,
        "rounds": [1.0, 2.0],
    }


def _run() -> PeersRun:
    rows = (row("bare", 20, 50), row("pixgate", 21, 50), row("ipx", 10, 80))
    meta = PeersMeta(
        date="2026-12-01 10:00:00",
        command="python -m loadtest.peers --quick",
        machine=MACHINE,
        peers={},
        pixgate_overrides={},
        vips_env={},
        pixgate_concurrency=2,
        pixgate_vips_threads=1,
        efforts={"webp": 2, "avif": 2},
        duration_s=1.5,
        rounds=1,
        warmup_s=0.5,
        concurrency=(2,),
        source_bytes={"photo-v1-4000x3000.jpg": 2_860_001},
        copies=400,
        scaling_width=800,
        elapsed_s=60.0,
        loadavg_end=("0.1", "0.2", "0.3"),
    )
    return PeersRun(
        meta=meta,
        systems={
            "bare": "bare pyvips",
            "pixgate": "pixgate",
            "thumbor": "thumbor pool=2",
            "ipx": "ipx (sharp)",
        },
        transforms=(),
        unavailable={"thumbor": "pip failed\nmore"},
        checks={},
        rows=rows,
        targets=peer_targets(rows),
        scaling=(),
        memory=None,
        cache_hits=None,
    )


def test_peer_report_text() -> None:
    text = report.text(peer_report(_run()))
    assert "  thumbor pool=2: NOT MEASURED: pip failed" in text
    assert text[1] == "pixgate vs peers  2026-12-01 10:00:00   (python -m loadtest.peers --quick)"
    assert text[2] == (
        "  machine: 2 cores (Test CPU), 8.0 GiB, Linux, Python 3.11.7, libvips 8.18.7; "
        "pixgate at abc1234"
    )
    start = text.index("  system             conc   req/s   p50 ms   p99 ms errors CPU ms/req"
                       " out bytes PSNR dB  peak RSS")  # fmt: skip
    assert text[start + 2 : start + 5] == [
        "  bare pyvips           2    20.0      100      200      0       50.0    50,000   (=pg)"
        "   100 MiB",
        "  pixgate               2    21.0      100      200      0       50.0    50,000     nan"
        "   100 MiB",
        "  ipx (sharp)           2    10.0      100      200      0       80.0    50,000     nan"
        "   100 MiB",
    ]
    ratios = "  {:<24}{:<24}{:>16}{:>15}"
    assert ratios.format("bare pyvips x2", "1.05 (1.05-1.05)", "1.00", "1.00") in text
    assert ratios.format("ipx (sharp) x2", "2.10 (2.10-2.10)", "1.60", "1.00") in text
    assert (
        "  T1 vs ipx                  > 1x     req/s x2 2.10          MET     | CPU x2 1.60"
        "          MET"
    ) in text


def test_peer_report_files(tmp_path: Path) -> None:
    run = _run()
    report.write(tmp_path / "peers.json", run, peer_report(run))
    document = json.loads((tmp_path / "peers.json").read_text())
    assert set(document) == {
        "meta", "systems", "transforms", "unavailable", "checks", "rows", "targets", "scaling",
        "memory", "cache_hits",
    }  # fmt: skip
    assert (document["meta"]["cores"], document["meta"]["git"]) == (2, "abc1234")
    first = document["rows"][0]
    assert (first["system"], first["concurrency"], first["per_second"]) == ("bare", 2, 20.0)
    assert first["cpu_ms_per_request"] == 50.0
    assert document["rows"][1]["psnr_db"] is None  # NaN
    assert document["targets"][0]["ratios"] == {"2": pytest.approx(1.05)}
    markdown = (tmp_path / "peers.md").read_text()
    assert "| system | conc | req/s |" in markdown
    assert "| T1 | ipx | > 1x | x2 2.10 | MET | x2 1.60 | MET |" in markdown
