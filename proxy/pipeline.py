"""The blocking part of a transform, run in the pool: probe → negotiate → plan → render."""

from __future__ import annotations

from dataclasses import dataclass

import pyvips

from proxy.deadline import Deadline
from proxy.errors import PixgateError, Unprocessable
from proxy.negotiate import choose_format
from proxy.options import Options, OutputFormat
from proxy.plan import EncoderDefaults, Limits, plan_transform
from proxy.probe import decode_error, is_load_failure, probe
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
        raise _render_error(error, data) from error.__cause__


def _render_error(error: Unprocessable, data: bytes) -> PixgateError:
    """A render failure as the probe names it: the header was sound, so a loader failing
    means a coding this build lacks (415) or damage past the header (422 corrupt_image),
    the answer an upload of these bytes gets. Other failures keep render's answer."""
    cause = error.__cause__
    if isinstance(cause, pyvips.Error) and is_load_failure(cause):
        return decode_error(cause, data)
    return error
