"""The soak test of `make soak`, short: one pixgate process under mixed traffic (hostile
requests included) over moto and a throwaway PostgreSQL; see `loadtest.soak`."""

from __future__ import annotations

from loadtest.soak import SoakConfig, run


def test_short_soak_loses_nothing_and_holds_steady() -> None:
    report = run(SoakConfig(duration_s=20, clients=3))
    assert report.ok, report.summary()
    assert len(report.tally.uploads) > 20
    assert {op for op, _ in report.tally.statuses} == {
        "hostile",
        "metadata",
        "transform",
        "upload",
        "view",
    }
