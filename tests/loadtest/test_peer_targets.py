"""The peer benchmark's targets, judged from small typed rows: pixgate's req/s over each
peer's and the peer's CPU per request over pixgate's, at every concurrency."""

from __future__ import annotations

import pytest

from loadtest.peer_results import GridRow
from loadtest.peer_targets import peer_targets, thumbor_best
from loadtest.results import Target
from tests.loadtest.results_fixtures import measured, row

# pixgate at 20 req/s and 50 ms CPU per request, at 2 clients and at 4.
PIXGATE = [row("pixgate", 20, 50), row("pixgate", 20, 50, concurrency=4)]


def _target(targets: tuple[Target, ...], transform: str, peer: str) -> Target:
    (found,) = [t for t in targets if t.transform == transform and t.peer == peer]
    return found


@pytest.mark.parametrize(
    ("rows", "peer", "ratios", "status", "cpu_ratios", "cpu_status"),
    [
        pytest.param(
            [*PIXGATE, row("bare", 20, 50), row("bare", 21, 50, concurrency=4)],
            "bare pyvips",
            {2: 1.0, 4: 20 / 21},
            "MET",
            {2: 1.0, 4: 1.0},
            "MET",
            id="bare-within-five-percent",
        ),
        pytest.param(
            [*PIXGATE, row("bare", 20, 50), row("bare", 25, 40, concurrency=4)],
            "bare pyvips",
            {2: 1.0, 4: 0.8},
            "MISSED",
            {2: 1.0, 4: 0.8},
            "MISSED",
            id="bare-missed-at-one-concurrency",
        ),
        pytest.param(
            [*PIXGATE[:1], row("thumbor", 10, 70), row("thumbor0", 16, 80)],
            "thumbor best config",
            {2: 1.25},
            "MET",
            {2: 1.4},
            "MET",
            id="thumbor-faster-config-by-rate-cheaper-by-cpu",
        ),
        pytest.param(
            [*PIXGATE[:1], row("thumbor0", 19, 54)],
            "thumbor best config",
            {2: 20 / 19},
            "MISSED",
            {2: 54 / 50},
            "MISSED",
            id="thumbor-one-config-short-of-1.1",
        ),
        pytest.param(
            [*PIXGATE[:1], row("ipx", 20, 50)],
            "ipx",
            {2: 1.0},
            "MISSED",
            {2: 1.0},
            "MISSED",
            id="ipx-even-is-not-ahead",
        ),
        pytest.param(
            [*PIXGATE[:1], row("ipx", 10, 100)],
            "ipx",
            {2: 2.0},
            "MET",
            {2: 2.0},
            "MET",
            id="ipx-ahead",
        ),
        pytest.param(
            [*PIXGATE, row("bare", 20, 50)],
            "ipx",
            {},
            "n/a",
            {},
            "n/a",
            id="peer-not-measured",
        ),
        pytest.param(
            [row("ipx", 10, 100)],
            "ipx",
            {},
            "n/a",
            {},
            "n/a",
            id="pixgate-not-measured",
        ),
    ],
)
def test_peer_targets(
    rows: list[GridRow],
    peer: str,
    ratios: dict[int, float],
    status: str,
    cpu_ratios: dict[int, float],
    cpu_status: str,
) -> None:
    target = _target(peer_targets(rows), "T1", peer)
    assert target.ratios == pytest.approx(ratios)
    assert target.status == status
    assert target.cpu_ratios == pytest.approx(cpu_ratios)
    assert target.cpu_status == cpu_status


@pytest.mark.parametrize(
    ("transform", "peer", "threshold", "strictly", "text"),
    [
        pytest.param("T1", "bare pyvips", 0.95, False, ">= 0.95x", id="T1-bare"),
        pytest.param("T1", "thumbor best config", 1.1, False, ">= 1.1x", id="T1-thumbor"),
        pytest.param("T2", "thumbor best config", 2.0, False, ">= 2x", id="T2-thumbor"),
        pytest.param("T3", "thumbor best config", 1.4, False, ">= 1.4x", id="T3-thumbor"),
        pytest.param("T3", "ipx", 1.0, True, "> 1x", id="T3-ipx"),
    ],
)
def test_thresholds_per_transform(
    transform: str, peer: str, threshold: float, strictly: bool, text: str
) -> None:
    rows = [row(system, 10, 10, transform=t) for t in ("T1", "T2", "T3") for system in ("pixgate",)]
    target = _target(peer_targets(rows), transform, peer)
    assert (target.threshold, target.strictly, target.target) == (threshold, strictly, text)


def test_one_target_per_transform_and_peer_in_transform_order() -> None:
    rows = [row("pixgate", 10, 10, transform=t) for t in ("T3", "T1")]
    keys = [(t.transform, t.peer) for t in peer_targets(rows)]
    assert keys == [
        ("T1", "bare pyvips"),
        ("T1", "thumbor best config"),
        ("T1", "ipx"),
        ("T3", "bare pyvips"),
        ("T3", "thumbor best config"),
        ("T3", "ipx"),
    ]


@pytest.mark.parametrize(
    ("rates", "best"),
    [
        pytest.param({"thumbor": 10.0, "thumbor0": 12.0}, "thumbor0", id="pool-0-faster"),
        pytest.param({"thumbor": 12.0, "thumbor0": 10.0}, "thumbor", id="pool-cores-faster"),
        pytest.param({"thumbor0": 10.0, "ipx": 30.0}, "thumbor0", id="only-one-config"),
        pytest.param({"ipx": 30.0}, None, id="no-thumbor"),
    ],
)
def test_thumbor_best(rates: dict[str, float], best: str | None) -> None:
    assert thumbor_best({key: measured(rate, 10) for key, rate in rates.items()}) == best
