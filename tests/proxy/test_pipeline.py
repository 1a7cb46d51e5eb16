"""transform: a render failure in a loader gets the probe's name for it; others keep theirs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pyvips

from loadtest.harness import imagegen
from proxy import pipeline
from proxy.animation import AnimationLimits
from proxy.errors import PixgateError, Unprocessable
from proxy.options import Options
from proxy.pipeline import PipelineConfig, transform
from proxy.plan import EncoderDefaults, Limits, Plan
from proxy.render import Rendered
from tests import codings

CONFIG = PipelineConfig(
    limits=Limits(max_output_pixels=25_000_000, max_animation_frames=100),
    encoder=EncoderDefaults(),
    max_src_pixels=50_000_000,
    animation=AnimationLimits(max_upload_frames=1000, max_pixels=125_000_000, capped_frames=100),
)


def _transform(data: bytes) -> PixgateError:
    with pytest.raises(PixgateError) as caught:
        transform(data, Options(width=100), None, "image/webp", CONFIG)
    return caught.value


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(
            lambda: imagegen.truncated(imagegen.quadrant_jpeg(400, 300)),
            (422, "corrupt_image", "the source image is truncated or corrupt"),
            id="jpeg-cut-after-its-header",
        ),
        pytest.param(
            codings.hevc_heic,
            (415, "unsupported_format", "HEIF with HEVC compression is not supported"),
            id="hevc-without-a-decoder",
        ),
    ],
)
def test_loader_failures_are_named_by_the_probe(
    make: Callable[[], bytes], expected: tuple[int, str, str]
) -> None:
    if expected[0] == 415:
        try:
            pyvips.Image.new_from_buffer(make(), "").avg()
        except pyvips.Error:
            pass
        else:
            pytest.skip("this libvips decodes HEVC")
    error = _transform(make())
    assert (error.status, error.code, error.message) == expected


def test_other_render_failures_keep_renders_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_encoder(data: bytes, plan: Plan, deadline: object = None) -> Rendered:
        try:
            raise pyvips.Error("unable to call webpsave_buffer")
        except pyvips.Error as error:
            raise Unprocessable("the image could not be processed") from error

    monkeypatch.setattr(pipeline, "render", failing_encoder)
    error = _transform(imagegen.quadrant_jpeg(40, 30))
    assert (error.status, error.code) == (422, "unprocessable")
