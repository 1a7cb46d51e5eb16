"""The animation benchmark's pieces: its bare loop keeps an animation's timing, and its report
says met or MISSED from the figures."""

from __future__ import annotations

from loadtest import anim_bench, report
from loadtest.harness import imagegen


def test_bare_loop_keeps_every_frame_and_its_timing() -> None:
    source = imagegen.panning_gif(48, 27, 6, delay_ms=70, loop=2)
    frames, delays, loop, width, height = anim_bench.timing_of(source)
    assert (frames, delays, loop, width, height) == (6, (70,) * 6, 2, 48, 27)
    assert anim_bench.timing_of(anim_bench.bare_convert(source)) == (6, (70,) * 6, 2, 48, 27)


def _results(pixgate_cpu_s: float, peak_rss_mb: float) -> anim_bench.AnimResults:
    timing = anim_bench.Timing(
        name="pan",
        source_bytes=1000,
        frames=300,
        width=480,
        height=270,
        bare_s=2.0,
        pixgate_s=2.1,
        bare_cpu_s=2.0,
        pixgate_cpu_s=pixgate_cpu_s,
        output_bytes=100,
        output_frames=300,
        output_width=480,
        output_height=270,
        timing_identical=True,
    )
    concurrent = anim_bench.Concurrent(4, 5.0, peak_rss_mb, True)
    return anim_bench.AnimResults("8.18.7", 3, "0.1 0.1 0.1", (timing,), concurrent)


def test_report_judges_each_target() -> None:
    good = "\n".join(report.text(anim_bench.report(_results(2.1, 200))))
    assert "CPU 1.05 met" in good and "MISSED" not in good
    bad = "\n".join(report.text(anim_bench.report(_results(2.4, 500))))
    assert "CPU 1.20 MISSED" in bad and "524 MB MISSED" in bad
    assert _results(2.1, 200).as_dict()["timings"][0]["byte_ratio"] == 0.1
