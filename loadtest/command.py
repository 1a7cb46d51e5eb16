"""What every benchmark command does around its run: SIGTERM as Ctrl-C (so every server
started is stopped by its PID), a refused setting as exit status 2, the report printed as
text, the results written as JSON with the markdown report beside them."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TypeVar

from loadtest import report

Plan = TypeVar("Plan")
Result = TypeVar("Result")


def parse_set(
    parser: argparse.ArgumentParser, items: Sequence[str], form: str = "NAME=VALUE"
) -> dict[str, str]:
    """--set NAME=VALUE options as a mapping; a malformed one stops with a usage error."""
    pairs = [item.partition("=") for item in items]
    if any(not sep for _, sep, _ in pairs):
        parser.error(f"--set expects {form}")
    return {name.strip(): value for name, _, value in pairs}


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_benchmark(
    name: str,
    output: Path,
    *,
    make_plan: Callable[[], Plan],
    banner: Callable[[Plan], str],
    run: Callable[[Plan], Result],
    blocks: Callable[[Result], list[report.Block]],
    elapsed_s: Callable[[Result], float],
    interrupted: str,
) -> int:
    """Plan, run, print and write one benchmark; its exit status. `make_plan` raises
    ValueError for settings the benchmark refuses; `interrupted` says what was stopped."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        plan = make_plan()
    except ValueError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    output.parent.mkdir(parents=True, exist_ok=True)
    print(f"{name}: {banner(plan)}", flush=True)
    try:
        result = run(plan)
    except KeyboardInterrupt:
        print(f"\ninterrupted; {interrupted}", file=sys.stderr)
        return 130
    rendered = blocks(result)
    print("\n".join(report.text(rendered)))
    report.write(output, result, rendered)
    print(f"\nresults: {output}  (run took {elapsed_s(result):.0f}s)")
    return 0
