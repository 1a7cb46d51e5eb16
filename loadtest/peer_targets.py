"""The issue's targets for the peer benchmark, judged from its rows (pure functions).

At every concurrency, pixgate's req/s over the peer's; and the same ratio by CPU per
request (the peer's CPU ms per request over pixgate's), which a busy machine disturbs far
less than req/s (it shares out CPU by runnable threads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from loadtest.peer_results import THUMBORS, GridRow, cells
from loadtest.report import ratio
from loadtest.results import Measurement, Target, Verdict

BARE_TARGET = 0.95
THUMBOR_TARGETS = {"T1": 1.1, "T2": 2.0, "T3": 1.4}
IPX_TARGET = 1.0
THUMBOR_BEST = "thumbor-best"


def verdict(values: Mapping[int, float], threshold: float, strictly: bool) -> Verdict:
    """MET when every value reaches the threshold (passes it, if `strictly`)."""
    if not values:
        return "n/a"
    met = all((v > threshold) if strictly else (v >= threshold) for v in values.values())
    return "MET" if met else "MISSED"


def thumbor_best(systems: Mapping[str, Measurement]) -> str | None:
    """The thumbor configuration with more req/s at this concurrency."""
    present = [key for key in THUMBORS if key in systems]
    if not present:
        return None
    return max(present, key=lambda key: systems[key].per_second)


def peer_figures(systems: Mapping[str, Measurement], peer: str) -> tuple[float, float] | None:
    """The peer's req/s and CPU ms per request; for the best thumbor, the faster
    configuration's req/s and the cheaper one's CPU."""
    if peer == THUMBOR_BEST:
        best = thumbor_best(systems)
        if best is None:
            return None
        cheapest = min(systems[key].cpu_ms_per_request for key in THUMBORS if key in systems)
        return systems[best].per_second, cheapest
    if peer not in systems:
        return None
    return systems[peer].per_second, systems[peer].cpu_ms_per_request


def peer_targets(rows: Sequence[GridRow]) -> tuple[Target, ...]:
    grid = cells(rows)
    targets = []
    for transform in sorted({row.transform for row in rows}):
        wanted = (
            ("bare pyvips", "bare", BARE_TARGET, False),
            ("thumbor best config", THUMBOR_BEST, THUMBOR_TARGETS[transform], False),
            ("ipx", "ipx", IPX_TARGET, True),
        )
        for name, peer, threshold, strictly in wanted:
            by_rate: dict[int, float] = {}
            by_cpu: dict[int, float] = {}
            for (key, concurrency), systems in grid.items():
                figures = peer_figures(systems, peer) if key == transform else None
                if figures is None or "pixgate" not in systems:
                    continue
                pixgate = systems["pixgate"]
                by_rate[concurrency] = ratio(pixgate.per_second, figures[0])
                by_cpu[concurrency] = ratio(figures[1], pixgate.cpu_ms_per_request)
            targets.append(
                Target(
                    transform=transform,
                    peer=name,
                    threshold=threshold,
                    strictly=strictly,
                    ratios=by_rate,
                    status=verdict(by_rate, threshold, strictly),
                    cpu_ratios=by_cpu,
                    cpu_status=verdict(by_cpu, threshold, strictly),
                )
            )
    return tuple(targets)
