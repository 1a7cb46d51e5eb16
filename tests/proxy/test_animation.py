"""Animations through the pipeline: a real GIF keeps every frame's delay and its loop count;
identical frames merge with their delays added; how many frames each kind of source keeps."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import pyvips

from loadtest.harness import imagegen
from proxy.animation import AnimationLimits, check_upload, frame_budget
from proxy.errors import AnimationTooLarge, SourceTooLarge, TooManyFrames
from proxy.option_parsers import parse_options
from proxy.options import OutputFormat
from proxy.pipeline import PipelineConfig, transform
from proxy.plan import EncoderDefaults, Limits
from proxy.probe import SourceFormat, SourceInfo

LIMITS = AnimationLimits(max_upload_frames=1000, max_pixels=125_000_000, capped_frames=5)
CONFIG = PipelineConfig(
    limits=Limits(25_000_000, 100, 125_000_000),
    encoder=EncoderDefaults(),
    max_src_pixels=50_000_000,
    animation=LIMITS,
)


def real_gif() -> bytes:
    """The terminal recording Locust ships (a test extra): 20 frames of 2240x508, delays
    of 50 to 2000 ms, played once. Written by no pixgate code."""
    spec = importlib.util.find_spec("locust")  # found, not imported: it patches the stdlib
    assert spec is not None and spec.origin is not None
    return (Path(spec.origin).parent / "webui/dist/assets/terminal.gif").read_bytes()


def timing(data: bytes) -> tuple[int, list[int], int, tuple[int, int]]:
    image = pyvips.Image.new_from_buffer(data, "", n=-1)
    page_height = image.get("page-height")
    frames = image.height // page_height
    return frames, list(image.get("delay"))[:frames], image.get("loop"), (image.width, page_height)


@pytest.mark.parametrize("output", ["webp", "gif"])
def test_a_real_gif_keeps_its_timing(output: str) -> None:
    data = real_gif()
    frames, delays, loop, _ = timing(data)
    assert (frames, loop) == (20, 1) and len(set(delays)) > 5
    options = parse_options(["rs:fit:500:500", f"f:{output}"], {})
    rendered = transform(data, options, None, "", CONFIG, uploaded=True)
    assert timing(rendered.data) == (20, delays, loop, (500, 113))
    assert (rendered.frames, rendered.frames_dropped) == (20, 0)


def test_a_real_gif_from_elsewhere_is_capped_and_says_so() -> None:
    options = parse_options(["rs:fit:500:500"], {})
    rendered = transform(real_gif(), options, None, "image/webp", CONFIG)
    frames, delays, _, _ = timing(rendered.data)
    assert (frames, rendered.frames_dropped) == (5, 15)
    assert delays == timing(real_gif())[1][:5]


@pytest.mark.parametrize("output", [OutputFormat.WEBP, OutputFormat.GIF])
def test_identical_frames_merge_with_their_delays_added(output: OutputFormat) -> None:
    red, blue = imagegen.solid(16, 16, imagegen.RED), imagegen.solid(16, 16, imagegen.BLUE)
    data = bytes(imagegen.animation([red, red, blue], delay_ms=100).gifsave_buffer())
    rendered = transform(data, parse_options([], {}), output, "", CONFIG, uploaded=True)
    frames, delays, _, _ = timing(rendered.data)
    assert sum(delays) == 300  # how long it plays is kept, whatever merged
    assert (frames, delays) == (2, [200, 100])


def gif_info(pages: int, width: int = 100, height: int = 100) -> SourceInfo:
    return SourceInfo(SourceFormat.GIF, width, height, pages=pages, delays=(100,) * pages)


# info, uploaded -> frames kept
BUDGETS: dict[str, tuple[SourceInfo, bool, int]] = {
    "upload-whole": (gif_info(1000), True, 1000),
    "upload-over-the-frames-capped": (gif_info(1001), True, 5),
    "upload-over-the-pixels-capped": (gif_info(10, 4000, 4000), True, 5),
    "other-source-capped": (gif_info(1000), False, 5),
    "still": (gif_info(1), True, 1),
}


@pytest.mark.parametrize(("info", "uploaded", "frames"), BUDGETS.values(), ids=BUDGETS.keys())
def test_frames_kept(info: SourceInfo, uploaded: bool, frames: int) -> None:
    budget = frame_budget(info, LIMITS, uploaded=uploaded, max_src_pixels=50_000_000)
    assert budget.frames == frames


def test_a_capped_source_still_counts_its_pixels() -> None:
    budget = frame_budget(
        gif_info(10, 4000, 4000), LIMITS, uploaded=False, max_src_pixels=50_000_000
    )
    with pytest.raises(SourceTooLarge, match="4000x4000 x 5 frames exceeds 50000000"):
        budget.check(gif_info(10, 4000, 4000))


@pytest.mark.parametrize(
    ("info", "error", "words"),
    [
        pytest.param(gif_info(1001), TooManyFrames, "1001 frames", id="frames"),
        pytest.param(gif_info(1000, 400, 400), AnimationTooLarge, "160000000 pixels", id="pixels"),
    ],
)
def test_upload_refusals_name_the_limit(info: SourceInfo, error: type[Any], words: str) -> None:
    with pytest.raises(error) as caught:
        check_upload(info, LIMITS)
    assert words in caught.value.message and "PIXGATE_MAX_" in caught.value.message
    assert caught.value.status == 422
