"""How many frames of an animation a render keeps, and which uploads are too long to keep.

Uploaded originals (`originals/img_...`) are rendered whole: the uploader refuses (422) an
animation whose frame count or decoded pixels (frames x canvas) exceed the upload limits,
decided from the header before a pixel is decoded, so every link can serve whatever it
accepted in full. Any other source keeps its first `capped_frames` frames, and the response
says how many it dropped. Pure arithmetic on a probed header; nothing here decodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from proxy.errors import AnimationTooLarge, SourceTooLarge, TooManyFrames
from proxy.probe import SourceInfo


@dataclass(frozen=True, slots=True)
class AnimationLimits:
    """`max_upload_frames` and `max_pixels` (frames x canvas) bound an uploaded animation,
    which is then rendered whole; `capped_frames` is what other sources keep."""

    max_upload_frames: int
    max_pixels: int
    capped_frames: int


def animation_limits(settings: Settings) -> AnimationLimits:
    """What uploads may hold (and so are rendered whole) and what other sources keep."""
    return AnimationLimits(
        max_upload_frames=settings.max_upload_frames,
        max_pixels=settings.max_animation_pixels,
        capped_frames=settings.max_animation_frames,
    )


def check_upload(info: SourceInfo, limits: AnimationLimits) -> None:
    """Raise TooManyFrames or AnimationTooLarge, naming the limit, for an animation that
    could not be served whole within `limits`."""
    if not info.animated:
        return
    if info.pages > limits.max_upload_frames:
        raise TooManyFrames(
            f"the animation has {info.pages} frames; the limit is "
            f"{limits.max_upload_frames} frames (PIXGATE_MAX_UPLOAD_FRAMES)"
        )
    decoded = decoded_pixels(info, info.pages)
    if decoded > limits.max_pixels:
        raise AnimationTooLarge(
            f"the animation decodes to {decoded} pixels ({info.pages} frames of "
            f"{info.width}x{info.height}); the limit is {limits.max_pixels} pixels "
            "(PIXGATE_MAX_ANIMATION_PIXELS)"
        )


def fits_whole(info: SourceInfo, limits: AnimationLimits) -> bool:
    """Whether an upload of `info` is within the limits, so is rendered whole."""
    try:
        check_upload(info, limits)
    except (TooManyFrames, AnimationTooLarge):
        return False
    return True


def decoded_pixels(info: SourceInfo, frames: int) -> int:
    return info.width * info.height * max(1, frames)


@dataclass(frozen=True, slots=True)
class FrameBudget:
    """The frames a render may decode, and the pixel budget they are checked against."""

    frames: int
    max_pixels: int

    def check(self, info: SourceInfo) -> None:
        """SourceTooLarge when the kept frames decode to more than the budget."""
        decoded = decoded_pixels(info, self.frames)
        if decoded > self.max_pixels:
            raise SourceTooLarge(
                f"the source is too large: {info.width}x{info.height}"
                + (f" x {self.frames} frames" if self.frames > 1 else "")
                + f" exceeds {self.max_pixels} pixels"
            )


def frame_budget(
    info: SourceInfo, limits: AnimationLimits, *, uploaded: bool, max_src_pixels: int
) -> FrameBudget:
    """All frames of an upload within the limits (checked against the animation budget);
    else at most `capped_frames`, checked against `max_src_pixels` as any source is."""
    if uploaded and info.animated and fits_whole(info, limits):
        return FrameBudget(info.pages, max(limits.max_pixels, max_src_pixels))
    return FrameBudget(max(1, min(info.pages, limits.capped_frames)), max_src_pixels)
