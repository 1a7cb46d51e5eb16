"""plan_transform: source size x options -> resize, crop, extend, format settings."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.errors import BadRequest
from proxy.options import (
    AUTO_QUALITY,
    Color,
    Gravity,
    GravityType,
    Options,
    OutputFormat,
    ResizingType,
)
from proxy.plan import (
    DEFAULT_AUTO_MAX_ENCODES,
    DEFAULT_QUALITY_TARGET,
    WHITE,
    Canvas,
    CropBox,
    EncoderDefaults,
    Limits,
    Plan,
    SmartCrop,
    plan_transform,
)
from proxy.probe import SourceFormat, SourceInfo
from proxy.quality import AutoQuality

LIMITS = Limits(max_output_pixels=50_000_000, max_animation_frames=100)
FIT, FILL, FILL_DOWN, FORCE, AUTO = (
    ResizingType.FIT,
    ResizingType.FILL,
    ResizingType.FILL_DOWN,
    ResizingType.FORCE,
    ResizingType.AUTO,
)


def source(
    width: int = 400,
    height: int = 300,
    *,
    orientation: int = 1,
    pages: int = 1,
    fmt: SourceFormat = SourceFormat.JPEG,
    alpha: bool = False,
) -> SourceInfo:
    return SourceInfo(fmt, width, height, orientation, alpha, pages)


LANDSCAPE = source()


def plan_for(
    options: Options,
    src: SourceInfo | None = None,
    output_format: OutputFormat = OutputFormat.JPEG,
    limits: Limits = LIMITS,
    encoder: EncoderDefaults | None = None,
) -> Plan:
    return plan_transform(
        options, src or source(), output_format, limits, encoder or EncoderDefaults()
    )


def gravity(kind: GravityType, x: float = 0.0, y: float = 0.0) -> Gravity:
    return Gravity(kind, x, y)


@dataclass(frozen=True, slots=True)
class Case:
    options: Options
    thumbnail: tuple[int, int]
    crop: CropBox | SmartCrop | None = None
    extend: Canvas | None = None
    output: tuple[int, int] | None = None  # defaults to crop size, else thumbnail size
    src: SourceInfo = LANDSCAPE


def opts(rt: ResizingType = FIT, w: int = 0, h: int = 0, **kwargs: object) -> Options:
    return Options(resizing_type=rt, width=w, height=h, **kwargs)  # type: ignore[arg-type]


# Source 400x300 (landscape) unless a case says otherwise.
GEOMETRY_CASES = {
    # fit
    "fit-both-zero-keeps-source": Case(opts(FIT), (400, 300)),
    "fit-width-only": Case(opts(FIT, 200), (200, 150)),
    "fit-height-only": Case(opts(FIT, 0, 150), (200, 150)),
    "fit-box-wider-than-image": Case(opts(FIT, 200, 200), (200, 150)),
    "fit-box-taller-than-image": Case(opts(FIT, 300, 100), (133, 100)),
    "fit-rounds-half-up": Case(opts(FIT, 100), (100, 33), src=source(1000, 333)),
    "fit-never-below-1px": Case(opts(FIT, 10), (10, 1), src=source(4000, 10)),
    "fit-no-enlarge": Case(opts(FIT, 800, 800), (400, 300)),
    "fit-enlarge": Case(opts(FIT, 800, 800, enlarge=True), (800, 600)),
    # fill
    "fill-centre": Case(opts(FILL, 200, 200), (267, 200), CropBox(33, 0, 200, 200)),
    "fill-west": Case(
        opts(FILL, 200, 200, gravity=gravity(GravityType.WEST)),
        (267, 200),
        CropBox(0, 0, 200, 200),
    ),
    "fill-east": Case(
        opts(FILL, 200, 200, gravity=gravity(GravityType.EAST)),
        (267, 200),
        CropBox(67, 0, 200, 200),
    ),
    "fill-north-portrait": Case(
        opts(FILL, 200, 200, gravity=gravity(GravityType.NORTH)),
        (200, 267),
        CropBox(0, 0, 200, 200),
        src=source(300, 400),
    ),
    "fill-south-portrait": Case(
        opts(FILL, 200, 200, gravity=gravity(GravityType.SOUTH)),
        (200, 267),
        CropBox(0, 67, 200, 200),
        src=source(300, 400),
    ),
    "fill-south-east-corner": Case(
        opts(FILL, 100, 100, gravity=gravity(GravityType.SOUTH_EAST)),
        (133, 100),
        CropBox(33, 0, 100, 100),
    ),
    "fill-east-pixel-offset-moves-inward": Case(
        opts(FILL, 200, 200, gravity=gravity(GravityType.EAST, 10)),
        (267, 200),
        CropBox(57, 0, 200, 200),
    ),
    "fill-centre-fractional-offset": Case(
        opts(FILL, 200, 200, gravity=gravity(GravityType.CENTER, 0.1)),
        (267, 200),
        CropBox(60, 0, 200, 200),
    ),
    "fill-offset-clamped-inside": Case(
        opts(FILL, 200, 200, gravity=gravity(GravityType.WEST, 1000)),
        (267, 200),
        CropBox(67, 0, 200, 200),
    ),
    "fill-smart": Case(
        opts(FILL, 200, 200, gravity=gravity(GravityType.SMART)), (267, 200), SmartCrop(200, 200)
    ),
    "fill-source-too-small-no-crop": Case(opts(FILL, 800, 800), (400, 300)),
    "fill-source-too-small-crops-the-long-side": Case(
        opts(FILL, 800, 200), (400, 300), CropBox(0, 50, 400, 200)
    ),
    "fill-enlarge": Case(
        opts(FILL, 800, 800, enlarge=True), (1067, 800), CropBox(133, 0, 800, 800)
    ),
    "fill-width-zero-is-fit": Case(opts(FILL, 0, 150), (200, 150)),
    # fill-down
    "fill-down-like-fill": Case(opts(FILL_DOWN, 200, 200), (267, 200), CropBox(33, 0, 200, 200)),
    "fill-down-small-source-same-ratio": Case(opts(FILL_DOWN, 800, 600), (400, 300)),
    "fill-down-small-source-keeps-square": Case(
        opts(FILL_DOWN, 800, 800), (400, 300), CropBox(50, 0, 300, 300)
    ),
    "fill-down-small-source-keeps-2-to-1": Case(
        opts(FILL_DOWN, 1000, 500), (400, 300), CropBox(0, 50, 400, 200)
    ),
    "fill-down-small-source-keeps-1-to-2": Case(
        opts(FILL_DOWN, 500, 1000), (400, 300), CropBox(125, 0, 150, 300)
    ),
    # force
    "force-exact": Case(opts(FORCE, 200, 100), (200, 100)),
    "force-width-zero-keeps-source-width": Case(opts(FORCE, 0, 100), (400, 100)),
    "force-no-enlarge-keeps-requested-ratio": Case(opts(FORCE, 800, 150), (400, 75)),
    "force-enlarge": Case(opts(FORCE, 800, 150, enlarge=True), (800, 150)),
    # auto
    "auto-same-orientation-fills": Case(opts(AUTO, 200, 100), (200, 150), CropBox(0, 25, 200, 100)),
    "auto-other-orientation-fits": Case(opts(AUTO, 100, 200), (100, 75)),
    "auto-portrait-both-fills": Case(
        opts(AUTO, 100, 150), (113, 150), CropBox(6, 0, 100, 150), src=source(300, 400)
    ),
    # dpr
    "dpr-multiplies-width": Case(opts(FIT, 100, dpr=2.0), (200, 150)),
    "dpr-no-enlarge-past-source": Case(opts(FIT, 300, dpr=2.0), (400, 300)),
    "dpr-fill": Case(opts(FILL, 100, 100, dpr=1.5), (200, 150), CropBox(25, 0, 150, 150)),
    "dpr-scales-pixel-offsets": Case(
        opts(FILL, 100, 100, dpr=2.0, gravity=gravity(GravityType.EAST, 10)),
        (267, 200),
        CropBox(47, 0, 200, 200),
    ),
    # extend
    "extend-fit-centres": Case(
        opts(FIT, 200, 200, extend=True), (200, 150), extend=Canvas(200, 200, 0, 25)
    ),
    "extend-north": Case(
        opts(FIT, 200, 200, extend=True, extend_gravity=gravity(GravityType.NORTH)),
        (200, 150),
        extend=Canvas(200, 200, 0, 0),
    ),
    "extend-south-east-with-offsets": Case(
        opts(FIT, 300, 300, extend=True, extend_gravity=gravity(GravityType.SOUTH_EAST, 10, 20)),
        (300, 225),
        extend=Canvas(300, 300, 0, 55),
    ),
    "extend-small-source": Case(
        opts(FILL, 800, 800, extend=True), (400, 300), extend=Canvas(800, 800, 200, 250)
    ),
    "extend-zero-height-pads-width-only": Case(
        opts(FIT, 800, extend=True), (400, 300), extend=Canvas(800, 300, 200, 0)
    ),
    "extend-not-needed": Case(opts(FIT, 200, extend=True), (200, 150)),
    "extend-after-fill-down": Case(
        opts(FILL_DOWN, 800, 800, extend=True),
        (400, 300),
        CropBox(50, 0, 300, 300),
        Canvas(800, 800, 250, 250),
    ),
    "extend-dpr": Case(
        opts(FIT, 100, 100, dpr=2.0, extend=True), (200, 150), extend=Canvas(200, 200, 0, 25)
    ),
    # orientation and rotation (sizes are in the final orientation; thumbnail before rotate)
    "exif-6-swaps-source-sides": Case(
        opts(FIT, 200), (200, 150), src=source(300, 400, orientation=6)
    ),
    "exif-8-fill": Case(
        opts(FILL, 100, 100),
        (133, 100),
        CropBox(16, 0, 100, 100),
        src=source(300, 400, orientation=8),
    ),
    "exif-3-keeps-sides": Case(opts(FIT, 200), (200, 150), src=source(400, 300, orientation=3)),
    "auto-rotate-off-uses-stored-sides": Case(
        opts(FIT, 150, auto_rotate=False), (150, 200), src=source(300, 400, orientation=6)
    ),
    "rotate-90-resizes-in-output-orientation": Case(
        opts(FIT, 150, rotate=90), (200, 150), output=(150, 200)
    ),
    "rotate-270-with-exif-6": Case(
        opts(FIT, 150, rotate=270),
        (200, 150),
        output=(150, 200),
        src=source(300, 400, orientation=6),
    ),
    "rotate-180-keeps-sides": Case(opts(FIT, 200, rotate=180), (200, 150)),
    "rotate-450-is-90": Case(opts(FIT, 150, rotate=450), (200, 150), output=(150, 200)),
    "rotate-90-fill-crops-after-rotation": Case(
        opts(FILL, 100, 200, rotate=90, gravity=gravity(GravityType.NORTH)),
        (200, 150),
        CropBox(25, 0, 100, 200),
        output=(100, 200),
    ),
}


@pytest.mark.parametrize("case", GEOMETRY_CASES.values(), ids=GEOMETRY_CASES.keys())
def test_geometry(case: Case) -> None:
    plan = plan_for(case.options, case.src)
    assert (plan.thumbnail_width, plan.thumbnail_height) == case.thumbnail
    assert plan.crop == case.crop
    assert plan.extend == case.extend
    expected = case.output
    if expected is None:
        if case.extend is not None:
            expected = (case.extend.width, case.extend.height)
        elif case.crop is not None:
            expected = (case.crop.width, case.crop.height)
        else:
            expected = case.thumbnail
    assert (plan.width, plan.height) == expected


CAP_CASES = {
    "fit-enlarged-past-cap": (opts(FIT, 4000, 3000, enlarge=True), 120_000, 1, (399, 299)),
    "fill-cap-counts-resized-image": (opts(FILL, 1000, 1000, enlarge=True), 250_000, 1, (433, 433)),
    "extend-canvas-counts": (opts(FIT, 2000, 2000, extend=True), 1_000_000, 1, (1000, 1000)),
    "frames-multiply-area": (opts(FIT, 400), 10 * 30_000, 10, (200, 150)),
    "under-cap-untouched": (opts(FIT, 400), 120_000, 1, (400, 300)),
}


@pytest.mark.parametrize(
    ("options", "cap", "pages", "expected"), CAP_CASES.values(), ids=CAP_CASES.keys()
)
def test_output_cap_scales_down_proportionally(
    options: Options, cap: int, pages: int, expected: tuple[int, int]
) -> None:
    limits = Limits(max_output_pixels=cap, max_animation_frames=100)
    src = source(pages=pages, fmt=SourceFormat.GIF if pages > 1 else SourceFormat.JPEG)
    plan = plan_for(options, src, OutputFormat.GIF, limits)
    assert (plan.width, plan.height) == expected
    assert (
        max(plan.thumbnail_width * plan.thumbnail_height, plan.width * plan.height) * (plan.frames)
        <= cap
    )
    if isinstance(plan.crop, CropBox):
        assert plan.crop.left + plan.crop.width <= plan.thumbnail_width
        assert plan.crop.top + plan.crop.height <= plan.thumbnail_height


AUTO = AutoQuality(DEFAULT_QUALITY_TARGET, DEFAULT_AUTO_MAX_ENCODES)
QUALITY_CASES = {
    "jpeg-default-auto": (OutputFormat.JPEG, Options(), 0, AUTO),
    "webp-default-auto": (OutputFormat.WEBP, Options(), 0, AUTO),
    "avif-default-auto": (OutputFormat.AVIF, Options(), 0, AUTO),
    "url-auto": (OutputFormat.JPEG, Options(quality=AUTO_QUALITY), 0, AUTO),
    "png-has-none": (OutputFormat.PNG, Options(quality=50), 0, None),
    "gif-has-none": (OutputFormat.GIF, Options(quality=50), 0, None),
    "png-has-no-auto": (OutputFormat.PNG, Options(quality=AUTO_QUALITY), 0, None),
    "url-quality": (OutputFormat.WEBP, Options(quality=60), 60, None),
    "url-format-quality-wins": (
        OutputFormat.AVIF,
        Options(quality=60, format_quality=((OutputFormat.AVIF, 40),)),
        40,
        None,
    ),
    "url-format-quality-auto-wins": (
        OutputFormat.AVIF,
        Options(quality=60, format_quality=((OutputFormat.AVIF, AUTO_QUALITY),)),
        0,
        AUTO,
    ),
    "url-format-quality-other-format": (
        OutputFormat.JPEG,
        Options(quality=60, format_quality=((OutputFormat.AVIF, 40),)),
        60,
        None,
    ),
    "clamped-to-100": (OutputFormat.JPEG, Options(quality=250), 100, None),
}


@pytest.mark.parametrize(
    ("output_format", "options", "quality", "auto"),
    QUALITY_CASES.values(),
    ids=QUALITY_CASES.keys(),
)
def test_quality(
    output_format: OutputFormat, options: Options, quality: int, auto: AutoQuality | None
) -> None:
    plan = plan_for(options, output_format=output_format)
    assert (plan.quality, plan.auto_quality) == (quality, auto)


def test_encoder_defaults_come_from_config_and_fall_back_to_auto_when_zero() -> None:
    encoder = EncoderDefaults(
        quality=((OutputFormat.JPEG, 70), (OutputFormat.WEBP, 0)),
        webp_effort=2,
        avif_effort=5,
        quality_target=82.5,
        auto_max_encodes=2,
    )
    jpeg = plan_for(Options(), output_format=OutputFormat.JPEG, encoder=encoder)
    assert (jpeg.quality, jpeg.auto_quality) == (70, None)
    webp = plan_for(Options(), output_format=OutputFormat.WEBP, encoder=encoder)
    assert (webp.quality, webp.auto_quality) == (0, AutoQuality(82.5, 2))
    assert (
        plan_for(Options(quality=90), output_format=OutputFormat.WEBP, encoder=encoder).quality
        == 90
    )
    assert plan_for(Options(), output_format=OutputFormat.WEBP, encoder=encoder).effort == 2
    assert plan_for(Options(), output_format=OutputFormat.AVIF, encoder=encoder).effort == 5
    assert plan_for(Options(), output_format=OutputFormat.JPEG, encoder=encoder).effort == 0


BLUE = Color(0, 0, 255)
BACKGROUND_CASES = {
    "jpeg-flattens-on-white": (OutputFormat.JPEG, None, WHITE, True),
    "jpeg-flattens-on-asked-colour": (OutputFormat.JPEG, BLUE, BLUE, True),
    "png-keeps-alpha": (OutputFormat.PNG, None, None, False),
    "png-with-background-flattens": (OutputFormat.PNG, BLUE, BLUE, True),
    "webp-keeps-alpha": (OutputFormat.WEBP, None, None, False),
    "avif-keeps-alpha": (OutputFormat.AVIF, None, None, False),
    "gif-keeps-alpha": (OutputFormat.GIF, None, None, False),
}


@pytest.mark.parametrize(
    ("output_format", "asked", "background", "flatten"),
    BACKGROUND_CASES.values(),
    ids=BACKGROUND_CASES.keys(),
)
def test_background_and_flatten(
    output_format: OutputFormat, asked: Color | None, background: Color | None, flatten: bool
) -> None:
    plan = plan_for(Options(background=asked), source(alpha=True), output_format)
    assert plan.background == background
    assert plan.flatten is flatten


FRAME_CASES = {
    "gif-to-gif-all-frames": (10, OutputFormat.GIF, 100, 10),
    "gif-to-webp-all-frames": (10, OutputFormat.WEBP, 100, 10),
    "capped-by-limit": (10, OutputFormat.GIF, 4, 4),
    "still-output-first-frame-jpeg": (10, OutputFormat.JPEG, 100, 1),
    "still-output-first-frame-avif": (10, OutputFormat.AVIF, 100, 1),
    "still-output-first-frame-png": (10, OutputFormat.PNG, 100, 1),
    "still-source": (1, OutputFormat.GIF, 100, 1),
}


@pytest.mark.parametrize(
    ("pages", "output_format", "max_frames", "frames"),
    FRAME_CASES.values(),
    ids=FRAME_CASES.keys(),
)
def test_frames(pages: int, output_format: OutputFormat, max_frames: int, frames: int) -> None:
    limits = Limits(max_output_pixels=50_000_000, max_animation_frames=max_frames)
    plan = plan_for(Options(), source(pages=pages, fmt=SourceFormat.GIF), output_format, limits)
    assert plan.frames == frames
    assert plan.animated is (frames > 1)


@pytest.mark.parametrize("icc", [True, False], ids=["tagged", "untagged"])
def test_icc_to_srgb_only_for_tagged_sources(icc: bool) -> None:
    src = SourceInfo(SourceFormat.JPEG, 400, 300, icc_profile=icc)
    assert plan_for(Options(), src).icc_to_srgb is icc


def test_smart_crop_of_animation_crops_centre() -> None:
    options = opts(FILL, 200, 200, gravity=gravity(GravityType.SMART))
    plan = plan_for(options, source(pages=3, fmt=SourceFormat.GIF), OutputFormat.GIF)
    assert plan.crop == CropBox(33, 0, 200, 200)


def test_pass_through_settings() -> None:
    options = Options(blur=1.5, sharpen=0.7, strip_metadata=False, max_bytes=10_000)
    plan = plan_for(options, output_format=OutputFormat.WEBP)
    assert (plan.blur_sigma, plan.sharpen_sigma) == (1.5, 0.7)
    assert plan.strip_metadata is False
    assert plan.max_bytes == 10_000
    assert plan.auto_rotate is True
    assert plan_for(options, output_format=OutputFormat.PNG).max_bytes == 0  # lossless: ignored


INVALID_CASES = {
    "rotate-not-right-angle": Options(rotate=45),
    "dpr-zero": Options(dpr=0.0),
    "dpr-negative": Options(dpr=-1.0),
    "dpr-nan": Options(dpr=float("nan")),
    "negative-width": Options(width=-1),
}


@pytest.mark.parametrize("options", INVALID_CASES.values(), ids=INVALID_CASES.keys())
def test_invalid_options(options: Options) -> None:
    with pytest.raises(BadRequest):
        plan_for(options)


sizes = st.integers(min_value=1, max_value=5000)
requests = st.integers(min_value=0, max_value=6000)


@given(
    src_width=sizes,
    src_height=sizes,
    width=requests,
    height=requests,
    resizing=st.sampled_from(ResizingType),
    gravity_type=st.sampled_from(GravityType),
    x_offset=st.floats(min_value=-500, max_value=500),
    enlarge=st.booleans(),
    extend=st.booleans(),
    dpr=st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0]),
    rotate=st.sampled_from([0, 90, 180, 270]),
    orientation=st.integers(min_value=1, max_value=8),
    cap=st.integers(min_value=1, max_value=10_000_000),
)
def test_plans_are_always_consistent(
    src_width: int,
    src_height: int,
    width: int,
    height: int,
    resizing: ResizingType,
    gravity_type: GravityType,
    x_offset: float,
    enlarge: bool,
    extend: bool,
    dpr: float,
    rotate: int,
    orientation: int,
    cap: int,
) -> None:
    options = Options(
        resizing_type=resizing,
        width=width,
        height=height,
        dpr=dpr,
        enlarge=enlarge,
        extend=extend,
        gravity=Gravity(gravity_type, x_offset),
        extend_gravity=Gravity(gravity_type, x_offset),
        rotate=rotate,
    )
    limits = Limits(max_output_pixels=cap, max_animation_frames=10)
    src = source(src_width, src_height, orientation=orientation)
    plan = plan_for(options, src, OutputFormat.PNG, limits)

    thumb_w, thumb_h = plan.thumbnail_width, plan.thumbnail_height
    if plan.rotate in (90, 270):
        thumb_w, thumb_h = thumb_h, thumb_w
    assert thumb_w >= 1 and thumb_h >= 1
    inner_w, inner_h = thumb_w, thumb_h
    if isinstance(plan.crop, CropBox):
        assert 0 <= plan.crop.left <= thumb_w - plan.crop.width
        assert 0 <= plan.crop.top <= thumb_h - plan.crop.height
    if plan.crop is not None:
        assert 1 <= plan.crop.width <= thumb_w and 1 <= plan.crop.height <= thumb_h
        inner_w, inner_h = plan.crop.width, plan.crop.height
    if plan.extend is not None:
        assert 0 <= plan.extend.left <= plan.extend.width - inner_w
        assert 0 <= plan.extend.top <= plan.extend.height - inner_h
    else:
        assert (plan.width, plan.height) == (inner_w, inner_h)
    if min(thumb_w, thumb_h, plan.width, plan.height) > 1:  # else the 1 px floor may win
        assert max(thumb_w * thumb_h, plan.width * plan.height) <= cap
    if not enlarge:
        src_w, src_h = (src.oriented_width, src.oriented_height)
        if rotate in (90, 270):
            src_w, src_h = src_h, src_w
        assert thumb_w <= src_w and thumb_h <= src_h


# page asked, pages in the source, frames the source may decode -> (frames, page) planned
PAGE_CASES = {
    "first": (0, 12, 100, (1, 0)),
    "middle": (7, 12, 100, (1, 7)),
    "past-the-end-is-the-last": (99, 12, 100, (1, 11)),
    "past-the-limit-is-the-last-kept": (4999, 5000, 100, (1, 99)),
    "all-frames-without-page": (None, 12, 100, (12, 0)),
}


@pytest.mark.parametrize(
    ("page", "pages", "max_frames", "expected"), PAGE_CASES.values(), ids=PAGE_CASES.keys()
)
def test_page_is_one_frame_within_the_frame_limit(
    page: int | None, pages: int, max_frames: int, expected: tuple[int, int]
) -> None:
    limits = Limits(max_output_pixels=50_000_000, max_animation_frames=max_frames)
    gif = source(pages=pages, fmt=SourceFormat.GIF)
    plan = plan_for(Options(page=page), gif, OutputFormat.WEBP, limits)
    assert (plan.frames, plan.page) == expected
