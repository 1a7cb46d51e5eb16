"""Print pixgate's import graph between its top-level packages: `python -m loadtest.imports`.

One row per importing package, one column per imported one; each cell counts the pairs of
modules (importer, imported) between the two, so an arrow against the layers shows up as a
number where a dot belongs. `make lint` enforces the layers; this shows them.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections import Counter
from collections.abc import Sequence

import grimp

PACKAGES = ("pixgate", "uploader", "proxy", "config", "pixgate_signing", "loadtest", "tests")


def package_edges(packages: Sequence[str]) -> Counter[tuple[str, str]]:
    """Counts of imports from one top-level package into another (same-package ones left out)."""
    present = [name for name in packages if importlib.util.find_spec(name) is not None]
    graph = grimp.build_graph(*present)
    edges: Counter[tuple[str, str]] = Counter()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            source, target = importer.split(".")[0], imported.split(".")[0]
            if source != target:
                edges[source, target] += 1
    return edges


def matrix(edges: Counter[tuple[str, str]], packages: Sequence[str]) -> str:
    width = max(len(name) for name in packages) + 2
    lines = ["importer \\ imported".ljust(width) + "".join(p[:10].rjust(11) for p in packages)]
    for source in packages:
        cells = "".join(
            (str(edges[source, target]) if edges[source, target] else ".").rjust(11)
            for target in packages
        )
        lines.append(source.ljust(width) + cells)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", default=list(PACKAGES))
    args = parser.parse_args(argv)
    print(matrix(package_edges(args.packages), args.packages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
