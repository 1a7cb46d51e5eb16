"""The blocking part of a transform, run in the pool: probe → negotiate → plan → render."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.negotiate import choose_format
from proxy.options import Options, OutputFormat
from proxy.plan import EncoderDefaults, Limits, plan_transform
from proxy.probe import probe
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
) -> Rendered:
    info = probe(
        data,
        max_pixels=config.max_src_pixels,
        max_frames=config.limits.max_animation_frames,
    )
    output_format, _ = choose_format(requested, accept, info)
    plan = plan_transform(options, info, output_format, config.limits, config.encoder)
    return render(data, plan)
