"""The blocking part of a transform, run in the pool: probe → negotiate → plan → render."""

from __future__ import annotations

from dataclasses import dataclass

import pyvips

from proxy.deadline import Deadline
from proxy.errors import Unprocessable
from proxy.negotiate import choose_format
from proxy.options import Options, OutputFormat
from proxy.plan import EncoderDefaults, Limits, plan_transform
from proxy.probe import decode_all, probe
from proxy.render import Rendered, render

Transformed = Rendered


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    limits: Limits
    encoder: EncoderDefaults
    max_src_pixels: int


def transform(
    data: bytes,
    options: Options,
    requested: OutputFormat | None,
    accept: str,
    config: PipelineConfig,
    deadline: Deadline | None = None,
) -> Rendered:
    """Render `data`; with a `deadline`, libvips is stopped when it passes and the result
    is TransformTimeout rather than the libvips failure that stopping causes."""
    info = probe(
        data,
        max_pixels=config.max_src_pixels,
        max_frames=config.limits.max_animation_frames,
    )
    output_format, _ = choose_format(requested, accept, info)
    plan = plan_transform(options, info, output_format, config.limits, config.encoder)
    if deadline is not None:
        deadline.check()
    try:
        return render(data, plan, deadline)
    except Unprocessable as error:
        if deadline is not None and deadline.expired:
            raise deadline.error() from None
        if isinstance(error.__cause__, pyvips.Error):
            # The header was sound. If the source does not decode either, say why as the
            # uploader would (415 naming the coding, 422 corrupt_image); else it was ours.
            decode_all(data, info, plan.frames)
        raise
