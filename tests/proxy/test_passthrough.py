"""A GIF asked for unchanged is served as its own bytes, less its metadata extensions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import pyvips
from hypothesis import given
from hypothesis import strategies as st

from loadtest.harness import imagegen
from proxy import pipeline
from proxy.animation import AnimationLimits
from proxy.errors import CorruptImage
from proxy.options import Color, Options, OutputFormat, ResizingType
from proxy.passthrough import is_passthrough, rewrite_gif
from proxy.pipeline import PipelineConfig, transform
from proxy.plan import EncoderDefaults, Limits, Plan, plan_transform
from proxy.probe import SourceFormat, SourceInfo, gif_blocks, gif_cut_short, probe

CONFIG = PipelineConfig(
    limits=Limits(max_output_pixels=25_000_000, max_animation_frames=100),
    encoder=EncoderDefaults(),
    max_src_pixels=50_000_000,
    animation=AnimationLimits(max_upload_frames=1000, max_pixels=125_000_000, capped_frames=100),
)

PAN = SourceInfo(
    format=SourceFormat.GIF, width=480, height=270, has_alpha=True, pages=300, delays=(40,) * 300
)
WHOLE = Limits(
    max_output_pixels=25_000_000, max_animation_frames=300, max_animation_pixels=125_000_000
)


def _plan(
    options: Options,
    info: SourceInfo = PAN,
    output_format: OutputFormat = OutputFormat.GIF,
    limits: Limits = WHOLE,
) -> Plan:
    return plan_transform(options, info, output_format, limits, EncoderDefaults())


GIF = OutputFormat.GIF


@pytest.mark.parametrize(
    ("plan", "info", "expected"),
    [
        pytest.param(_plan(Options(format=GIF)), PAN, True, id="original-link"),
        pytest.param(_plan(Options(width=480)), PAN, True, id="width-of-the-source"),
        pytest.param(_plan(Options(width=240, dpr=2)), PAN, True, id="dpr-back-to-the-source"),
        pytest.param(_plan(Options(width=960)), PAN, True, id="upscale-without-enlarge"),
        pytest.param(_plan(Options(strip_metadata=False)), PAN, True, id="metadata-kept"),
        pytest.param(
            _plan(Options(page=0), replace(PAN, pages=1)),
            replace(PAN, pages=1),
            True,
            id="still-gif-page-0",
        ),
        pytest.param(_plan(Options(width=240)), PAN, False, id="resized"),
        pytest.param(_plan(Options(width=960, enlarge=True)), PAN, False, id="enlarged"),
        pytest.param(_plan(Options(width=480, dpr=2, enlarge=True)), PAN, False, id="dpr-2"),
        pytest.param(
            _plan(Options(), limits=replace(WHOLE, max_animation_frames=100)),
            PAN,
            False,
            id="frames-capped",
        ),
        pytest.param(
            _plan(Options(), limits=replace(WHOLE, max_output_pixels=100_000)),
            PAN,
            False,
            id="output-pixels-capped",
        ),
        pytest.param(_plan(Options(page=0)), PAN, False, id="first-frame-as-still"),
        pytest.param(_plan(Options(page=3)), PAN, False, id="page"),
        pytest.param(_plan(Options(rotate=90)), PAN, False, id="rotate-90"),
        pytest.param(_plan(Options(rotate=180)), PAN, False, id="rotate-180"),
        pytest.param(
            _plan(Options(width=480, height=200, resizing_type=ResizingType.FILL)),
            PAN,
            False,
            id="crop",
        ),
        pytest.param(_plan(Options(width=500, height=300, extend=True)), PAN, False, id="extend"),
        pytest.param(_plan(Options(blur=1.5)), PAN, False, id="blur"),
        pytest.param(_plan(Options(sharpen=0.5)), PAN, False, id="sharpen"),
        pytest.param(
            _plan(Options(background=Color(0, 0, 0))), PAN, False, id="background-flatten"
        ),
        pytest.param(
            _plan(Options(), replace(PAN, icc_profile=True)),
            replace(PAN, icc_profile=True),
            False,
            id="icc-profile",
        ),
        pytest.param(
            _plan(Options(), output_format=OutputFormat.WEBP), PAN, False, id="gif-to-webp"
        ),
        pytest.param(
            _plan(Options(), replace(PAN, format=SourceFormat.WEBP)),
            replace(PAN, format=SourceFormat.WEBP),
            False,
            id="webp-to-gif",
        ),
        pytest.param(replace(_plan(Options()), max_bytes=10_000), PAN, False, id="byte-budget"),
    ],
)
def test_is_passthrough(plan: Plan, info: SourceInfo, expected: bool) -> None:
    assert is_passthrough(plan, info) is expected


# --- the GIF block stream ------------------------------------------------------------------


def _strip(data: bytes) -> bytes:
    return rewrite_gif(data, strip_metadata=True)


def _extension(label: int, payload: bytes) -> bytes:
    """An extension block: payload in sub-blocks of at most 255 bytes."""
    chunks = [payload[at : at + 255] for at in range(0, len(payload), 255)]
    return b"\x21" + bytes((label,)) + b"".join(bytes((len(c),)) + c for c in chunks) + b"\x00"


COMMENT = _extension(0xFE, b"made by a camera that likes to talk " * 20)
XMP = _extension(0xFF, b"XMP DataXMP" + b"<x:xmpmeta>" + b"a" * 600 + b"</x:xmpmeta>")
ICC = _extension(0xFF, b"ICCRGBG1012" + b"\x00" * 300)
PLAIN_TEXT = _extension(0x01, bytes(12) + b"hello")
CONTROL = b"\x21\xf9\x04\x04\x04\x00\x00\x00"
_SCREEN = b"GIF89a\x02\x00\x02\x00\x00\x00\x00"


def _with_metadata(data: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """`data` with a comment and XMP before the first image and a comment, an ICC profile
    and a plain text (with its own graphic control) before the fifth; and what went in."""
    images = [b.start for b in gif_blocks(data) if b.introducer == 0x2C]
    first = images[0] - len(CONTROL)  # libvips writes a graphic control before each image
    fifth = images[4] - len(CONTROL)
    inserts = [(first, COMMENT + XMP), (fifth, COMMENT + ICC + CONTROL + PLAIN_TEXT)]
    out = data
    for at, block in reversed(inserts):
        out = out[:at] + block + out[at:]
    return out, inserts


def test_strip_drops_only_the_inserted_extensions() -> None:
    source = imagegen.panning_gif(48, 32, 12, delay_ms=60, loop=3)
    tagged, _ = _with_metadata(source)
    assert len(tagged) > len(source)
    assert _strip(tagged) == source
    assert _strip(source) == source


def test_strip_keeps_the_loop_extension_and_adds_a_missing_trailer() -> None:
    source = imagegen.panning_gif(32, 24, 4, loop=2)
    assert b"NETSCAPE2.0" in source
    assert _strip(source[:-1]) == source  # ends cleanly, trailer missing


@pytest.mark.parametrize("strip_metadata", [True, False], ids=["stripped", "kept"])
def test_nothing_after_the_trailer(strip_metadata: bool) -> None:
    tagged, _ = _with_metadata(imagegen.panning_gif(48, 32, 6))
    rewritten = rewrite_gif(tagged + b"<script>alert(1)</script>", strip_metadata=strip_metadata)
    assert rewritten == (_strip(tagged) if strip_metadata else tagged)


@given(st.binary(max_size=300).map(lambda b: _SCREEN + b))
def test_kept_metadata_is_a_prefix_up_to_the_trailer(data: bytes) -> None:
    try:
        kept = rewrite_gif(data, strip_metadata=False)
    except CorruptImage:
        return
    assert kept[:-1] == data[: len(kept) - 1]
    assert kept.endswith(b"\x3b")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"GIF89a\x01\x00", id="cut-in-the-screen"),
        pytest.param(b"PNG89a" + bytes(7), id="not-a-gif"),
        pytest.param(b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + bytes(3), id="cut-in-the-palette"),
        pytest.param(b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xfe\x05ab", id="cut-in-a-comment"),
        pytest.param(b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x2c\x00", id="cut-in-an-image"),
        pytest.param(b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x99", id="unknown-block"),
    ],
)
def test_strip_refuses_what_is_no_gif(data: bytes) -> None:
    with pytest.raises(CorruptImage):
        _strip(data)


@given(st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: _SCREEN + b)))
def test_strip_any_bytes_gives_a_gif_or_our_error(data: bytes) -> None:
    try:
        stripped = _strip(data)
    except CorruptImage:
        return
    assert stripped[:6] in (b"GIF87a", b"GIF89a")
    assert stripped.endswith(b"\x3b")
    assert not gif_cut_short(stripped)
    labels = {b.label for b in gif_blocks(stripped) if b.introducer == 0x21}
    assert labels <= {0xF9, 0xFF}
    assert _strip(stripped) == stripped


# --- through the pipeline, real pixels -----------------------------------------------------


def _frames(data: bytes) -> tuple[Any, list[int], int]:
    image = pyvips.Image.new_from_buffer(data, "", n=-1)
    return image.write_to_memory(), list(image.get("delay")), int(image.get("loop"))


@pytest.fixture(scope="module")
def long_gif() -> bytes:
    return imagegen.panning_gif(160, 90, 300)  # 40 ms frames, looping forever


def test_original_link_of_a_300_frame_gif_is_the_source(
    long_gif: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert probe(long_gif, max_pixels=10**6, max_frames=1).pages == 300
    tagged, _ = _with_metadata(long_gif)

    def no_render(*_: Any) -> Any:
        raise AssertionError("the passthrough should not render")

    monkeypatch.setattr(pipeline, "_render", no_render)
    result = transform(tagged, Options(format=GIF), GIF, "image/webp", CONFIG, uploaded=True)
    assert result.data == long_gif
    assert result.data[:6] == b"GIF89a"
    assert (result.format, result.width, result.height) == (GIF, 160, 90)
    assert (result.frames, result.frames_dropped) == (300, 0)
    assert _frames(result.data) == _frames(tagged)
    _, delays, loop = _frames(result.data)
    assert (len(delays), set(delays), loop) == (300, {40}, 0)


def test_metadata_kept_when_asked(long_gif: bytes) -> None:
    tagged, _ = _with_metadata(long_gif)
    options = Options(format=GIF, strip_metadata=False)
    result = transform(tagged, options, GIF, "", CONFIG, uploaded=True)
    assert result.data == tagged


def test_a_resized_gif_still_renders() -> None:
    small = imagegen.panning_gif(64, 36, 6)
    result = transform(small, Options(format=GIF, width=32), GIF, "", CONFIG, uploaded=True)
    assert (result.width, result.height, result.frames) == (32, 18, 6)
    assert probe(result.data, max_pixels=10**6).width == 32


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(Options(format=GIF, rotate=180), id="rotate"),
        pytest.param(Options(format=GIF, blur=1.0), id="blur"),
        pytest.param(Options(format=GIF, background=Color(0, 0, 0)), id="background"),
        pytest.param(Options(format=GIF, page=2), id="page"),
    ],
)
def test_a_pixel_step_renders(options: Options, monkeypatch: pytest.MonkeyPatch) -> None:
    source = imagegen.panning_gif(40, 30, 5)
    rendered: list[Plan] = []
    real = pipeline._render

    def spy(data: bytes, info: SourceInfo, plan: Plan, deadline: Any) -> Any:
        rendered.append(plan)
        return real(data, info, plan, deadline)

    monkeypatch.setattr(pipeline, "_render", spy)
    result = transform(source, options, GIF, "", CONFIG, uploaded=True)
    assert len(rendered) == 1
    assert result.data != source


def test_dropped_frames_render(long_gif: bytes) -> None:
    """A GIF from elsewhere keeps the capped frames: rendered, and the drop is counted."""
    result = transform(long_gif, Options(format=GIF), GIF, "", CONFIG, uploaded=False)
    assert (result.frames, result.frames_dropped) == (100, 200)
    assert result.data != long_gif
