"""The benchmarks' one report layer: typed results in, text, markdown or JSON out.

A benchmark's report is a list of blocks: lines of prose (`Text`) and tables (`Table`, cells
already formatted). `text` prints them as the commands always have (fixed-width columns);
`markdown` renders the same blocks for a document. `to_json` turns any result dataclass
into JSON: dataclasses become objects (a field marked `results.FLAT` merges into its
parent), NaN and infinity become null.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from loadtest.results import Target

# Cores used by other processes during a measurement above which a report warns that the
# machine was busy (its req/s ratios then measure thread counts as much as efficiency).
BUSY_MACHINE_CORES = 0.25


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    width: int
    align: Literal["<", ">"] = ">"


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    indent: str = "  "
    gap: str = ""  # between columns
    rule: bool = False  # a line of dashes under the header
    header: bool = True  # printed in text; markdown always has one


@dataclass(frozen=True, slots=True)
class Text:
    lines: tuple[str, ...]


Block = Text | Table


def lines(*items: str) -> Text:
    return Text(tuple(items))


def table(
    rows: Iterable[Sequence[str]],
    columns: Sequence[Column],
    *,
    indent: str = "  ",
    gap: str = "",
    rule: bool = False,
    header: bool = True,
) -> Table:
    """A table of formatted cells, one tuple per row, in the columns' order. A column with
    an empty header holds words that join cells into a line of text (`vs`, `|`); markdown
    leaves it out."""
    return Table(tuple(columns), tuple(tuple(row) for row in rows), indent, gap, rule, header)


def _cells(cells: Sequence[str], columns: Sequence[Column], gap: str) -> str:
    return gap.join(f"{cell:{c.align}{c.width}}" for cell, c in zip(cells, columns, strict=True))


def table_lines(block: Table) -> list[str]:
    out = []
    if block.header:
        header = _cells([c.header for c in block.columns], block.columns, block.gap)
        out.append(block.indent + header)
        if block.rule:
            out.append(block.indent + "-" * len(header))
    out += [block.indent + _cells(row, block.columns, block.gap) for row in block.rows]
    return out


def text(blocks: Iterable[Block]) -> list[str]:
    """The report as the commands print it."""
    out: list[str] = []
    for block in blocks:
        out += list(block.lines) if isinstance(block, Text) else table_lines(block)
    return out


def markdown(blocks: Iterable[Block]) -> list[str]:
    """The same report as markdown: a line of prose as a paragraph, an indented one (a
    detail of the line above) as a list item, tables as pipe tables."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            shown = [i for i, column in enumerate(block.columns) if column.header]
            out += ["", _pipe_row([block.columns[i].header for i in shown])]
            out.append("|" + "|".join(_rule(block.columns[i]) for i in shown) + "|")
            out += [_pipe_row([row[i].strip() for i in shown]) for row in block.rows]
            out.append("")
            continue
        for line in block.lines:
            if line.startswith(" ") and line.strip():
                out.append("- " + line.strip())
            elif line:
                out += ["", line, ""]
    # One blank line between blocks, none at the start.
    tidy: list[str] = []
    for line in out:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return tidy


def _rule(column: Column) -> str:
    return "---:" if column.align == ">" else "---"


def _pipe_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def targets_table(targets: Sequence[Target]) -> Table:
    """Each target: pixgate's ratio to the peer at every concurrency, by req/s and by CPU
    per request, and the verdicts."""

    def figures(values: Mapping[int, float]) -> str:
        return " ".join(f"x{c} {v:.2f}" for c, v in sorted(values.items())) or "-"

    columns = (
        Column("transform", 0, "<"),
        Column("", 0, "<"),
        Column("peer", 20, "<"),
        Column("target", 8, "<"),
        Column("", 0, "<"),
        Column("ratio by req/s", 16, "<"),
        Column("req/s", 7, "<"),
        Column("", 0, "<"),
        Column("ratio by CPU", 16, "<"),
        Column("CPU", 0, "<"),
    )
    rows = [
        (t.transform, "vs", t.peer, t.target, "req/s", figures(t.ratios), t.status, "| CPU",
         figures(t.cpu_ratios), t.cpu_status)
        for t in targets
    ]  # fmt: skip
    return table(rows, columns, gap=" ", header=False)


# --- figures ----------------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; NaN when the denominator is 0 or NaN."""
    return numerator / denominator if denominator and not math.isnan(denominator) else math.nan


def mib(value: float) -> str:
    return f"{value / (1 << 20):.0f} MiB"


# --- JSON -------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """Plain JSON data from results: dataclasses as objects (FLAT fields merged into their
    parent), mappings with string keys, sequences as lists, NaN and infinity as None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        document: dict[str, Any] = {}
        for field in dataclasses.fields(value):
            item = jsonable(getattr(value, field.name))
            if field.metadata.get("flat"):
                document.update(item)
            else:
                document[field.name] = item
        return document
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2) + "\n"


def write(path: Path, result: Any, blocks: Iterable[Block]) -> None:
    """`result` as JSON at `path`, and the report as markdown beside it (.md)."""
    path.write_text(to_json(result))
    path.with_suffix(".md").write_text("\n".join(markdown(blocks)) + "\n")
