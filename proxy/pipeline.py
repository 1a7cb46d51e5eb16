"""The blocking part of a transform, run in the pool: probe → negotiate → plan → render."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyvips

from proxy.animation import AnimationLimits, frame_budget
from proxy.deadline import Deadline
from proxy.errors import Unprocessable
from proxy.negotiate import choose_format
from proxy.options import Options, OutputFormat
from proxy.passthrough import is_passthrough, passthrough
from proxy.plan import EncoderDefaults, Limits, Plan, plan_transform
from proxy.probe import SourceInfo, decode_all, probe
from proxy.render import Rendered, render

Transformed = Rendered


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    limits: Limits
    encoder: EncoderDefaults
    max_src_pixels: int
    animation: AnimationLimits


def transform(
    data: bytes,
    options: Options,
    requested: OutputFormat | None,
    accept: str,
    config: PipelineConfig,
    deadline: Deadline | None = None,
    *,
    uploaded: bool = False,
) -> Rendered:
    """Render `data`; with a `deadline`, libvips is stopped when it passes and the result
    is TransformTimeout rather than the libvips failure that stopping causes. An
    `uploaded` original (within the upload limits) keeps every frame; other animations
    keep the first PIXGATE_MAX_ANIMATION_FRAMES, and the result counts those dropped. A GIF
    asked for unchanged is answered with its own bytes (proxy.passthrough)."""
    info = probe(data, max_pixels=config.max_src_pixels, max_frames=1)
    budget = frame_budget(
        info, config.animation, uploaded=uploaded, max_src_pixels=config.max_src_pixels
    )
    budget.check(info)
    # A still asked of an animation is negotiated as a still (AVIF where accepted).
    shown = info if options.page is None else replace(info, pages=1)
    output_format, _ = choose_format(requested, accept, shown)
    limits = replace(config.limits, max_animation_frames=budget.frames)
    plan = plan_transform(options, info, output_format, limits, config.encoder)
    if is_passthrough(plan, info):
        # The GIF asked for is the source: its own bytes, not a re-encode of every frame.
        if deadline is not None:
            deadline.check()
        return passthrough(data, plan, info)
    rendered = _render(data, info, plan, deadline)
    if info.animated and output_format.animated and options.page is None:
        return replace(rendered, frames_dropped=info.pages - plan.frames)
    return rendered


def _render(data: bytes, info: SourceInfo, plan: Plan, deadline: Deadline | None) -> Rendered:
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
