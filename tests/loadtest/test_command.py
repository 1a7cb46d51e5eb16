"""What every benchmark command does around its run: the exit status, the printed report
and the files written (`loadtest.command`)."""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from loadtest.command import parse_set, run_benchmark
from loadtest.report import Block, Column, lines, table


@dataclass(frozen=True, slots=True)
class _Result:
    per_second: float
    elapsed_s: float


def _blocks(result: _Result) -> list[Block]:
    return [lines("", "title"), table([(f"{result.per_second:.1f}",)], (Column("req/s", 6),))]


@pytest.fixture(autouse=True)
def _sigterm_restored() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def _plan() -> int:
    return 3


def _run(plan: int) -> _Result:
    return _Result(plan * 2.5, 12.0)


def _refuse() -> int:
    raise ValueError("--set PIXGATE_KEY: not allowed")


def _interrupt(plan: int) -> _Result:
    raise KeyboardInterrupt


def _command(
    output: Path,
    make_plan: Callable[[], int] = _plan,
    run: Callable[[int], _Result] = _run,
) -> int:
    return run_benchmark(
        "pixgate test",
        output,
        make_plan=make_plan,
        banner=lambda plan: f"{plan} rows",
        run=run,
        blocks=_blocks,
        elapsed_s=lambda result: result.elapsed_s,
        interrupted="servers stopped",
    )


def test_a_run_prints_and_writes_json_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "bench" / "results.json"
    assert _command(output) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "pixgate test: 3 rows"
    assert printed[1:5] == ["", "title", "   req/s", "     7.5"]
    assert printed[-1] == f"results: {output}  (run took 12s)"
    assert json.loads(output.read_text()) == {"per_second": 7.5, "elapsed_s": 12.0}
    assert (tmp_path / "bench" / "results.md").read_text() == (
        "title\n\n| req/s |\n|---:|\n| 7.5 |\n\n"
    )


@pytest.mark.parametrize(
    ("make_plan", "run", "status", "message"),
    [
        pytest.param(
            _refuse, _run, 2, "pixgate test: --set PIXGATE_KEY: not allowed", id="refused"
        ),
        pytest.param(_plan, _interrupt, 130, "interrupted; servers stopped", id="interrupted"),
    ],
)
def test_no_results_without_a_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_plan: Callable[[], int],
    run: Callable[[int], _Result],
    status: int,
    message: str,
) -> None:
    output = tmp_path / "results.json"
    assert _command(output, make_plan, run) == status
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_parse_set() -> None:
    parser = argparse.ArgumentParser(prog="bench")
    assert parse_set(parser, ["PIXGATE_A=1", " VIPS_B =x=y"]) == {"PIXGATE_A": "1", "VIPS_B": "x=y"}
    with pytest.raises(SystemExit):
        parse_set(parser, ["PIXGATE_A"])
