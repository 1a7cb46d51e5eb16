"""Option segments to Options: every option and alias, bad values, presets, properties."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import SettingsError
from proxy.errors import BadRequest
from proxy.option_parsers import (
    MAX_EXPANDED_SEGMENTS,
    OPTION_NAMES,
    parse_options,
    parse_preset_definitions,
    presets_from_setting,
)
from proxy.options import (
    AUTO_QUALITY,
    Color,
    Gravity,
    GravityType,
    Options,
    OutputFormat,
    ResizingType,
)

T = TypeVar("T")
NO_PRESETS: dict[str, tuple[str, ...]] = {}


def parse(*segments: str) -> Options:
    return parse_options(segments, NO_PRESETS)


def rejected(*segments: str, presets: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """The message of the BadRequest that parsing `segments` raises."""
    with pytest.raises(BadRequest) as caught:
        parse_options(segments, presets or NO_PRESETS)
    assert caught.value.code == "invalid_option"
    return caught.value.message


def test_option_names_cover_every_option_and_alias() -> None:
    assert dict(OPTION_NAMES) == {
        **dict.fromkeys(("resize", "rs"), "resize"),
        **dict.fromkeys(("size", "s"), "size"),
        **dict.fromkeys(("resizing_type", "rt"), "resizing_type"),
        "fit": "fit",
        **dict.fromkeys(("width", "w"), "width"),
        **dict.fromkeys(("height", "h"), "height"),
        "dpr": "dpr",
        **dict.fromkeys(("enlarge", "el"), "enlarge"),
        **dict.fromkeys(("extend", "ex"), "extend"),
        **dict.fromkeys(("gravity", "g"), "gravity"),
        **dict.fromkeys(("quality", "q"), "quality"),
        **dict.fromkeys(("format_quality", "fq"), "format_quality"),
        **dict.fromkeys(("format", "f", "ext"), "format"),
        **dict.fromkeys(("background", "bg"), "background"),
        **dict.fromkeys(("blur", "bl"), "blur"),
        **dict.fromkeys(("sharpen", "sh"), "sharpen"),
        **dict.fromkeys(("rotate", "rot"), "rotate"),
        **dict.fromkeys(("auto_rotate", "ar"), "auto_rotate"),
        **dict.fromkeys(("strip_metadata", "sm"), "strip_metadata"),
        **dict.fromkeys(("cachebuster", "cb"), "cachebuster"),
        **dict.fromkeys(("expires", "exp"), "expires"),
        **dict.fromkeys(("max_bytes", "mb"), "max_bytes"),
        **dict.fromkeys(("page", "pg"), "page"),
        **dict.fromkeys(("preset", "pr"), "preset"),
    }


FILL = ResizingType.FILL
SE = Gravity(GravityType.SOUTH_EAST, 0.0, 0.0)

# (segment, the Options it gives on top of Options()), one row per option name and alias.
EVERY_OPTION = [
    ("rs:fill:300:400:1:1", Options(FILL, 300, 400, enlarge=True, extend=True)),
    ("resize:fill:300:400:0:0", Options(FILL, 300, 400)),
    ("rs:fill", Options(FILL)),
    ("rs:fill:300", Options(FILL, 300)),
    ("rs:fill::400", Options(FILL, 0, 400)),
    ("rs::300", Options(width=300)),
    ("rs:fill:1:2:0:1:soea", Options(FILL, 1, 2, extend=True, extend_gravity=SE)),
    ("s:300:400:t:t", Options(width=300, height=400, enlarge=True, extend=True)),
    ("size:300", Options(width=300)),
    (
        "s:1:2:0:1:soea:5:6",
        Options(
            width=1, height=2, extend=True, extend_gravity=Gravity(GravityType.SOUTH_EAST, 5.0, 6.0)
        ),
    ),
    ("rt:fill", Options(FILL)),
    ("resizing_type:force", Options(ResizingType.FORCE)),
    ("fit:cover", Options(FILL)),
    ("fit:contain", Options(ResizingType.FIT)),
    ("fit:fill-down", Options(ResizingType.FILL_DOWN)),
    ("w:300", Options(width=300)),
    ("width:0", Options(width=0)),
    ("w:65535", Options(width=65535)),
    ("h:200", Options(height=200)),
    ("height:65535", Options(height=65535)),
    ("dpr:2", Options(dpr=2.0)),
    ("dpr:0.5", Options(dpr=0.5)),
    ("dpr:8", Options(dpr=8.0)),
    ("el:1", Options(enlarge=True)),
    ("enlarge:true", Options(enlarge=True)),
    ("ex:1", Options(extend=True)),
    ("extend:1:soea", Options(extend=True, extend_gravity=SE)),
    ("ex:0:no:10:0.5", Options(extend_gravity=Gravity(GravityType.NORTH, 10.0, 0.5))),
    ("g:sm", Options(gravity=Gravity(GravityType.SMART))),
    ("gravity:no:10:20", Options(gravity=Gravity(GravityType.NORTH, 10.0, 20.0))),
    ("g:ce:-0.25", Options(gravity=Gravity(GravityType.CENTER, -0.25, 0.0))),
    ("q:80", Options(quality=80)),
    ("quality:0", Options(quality=0)),
    ("quality:100", Options(quality=100)),
    ("q:auto", Options(quality=AUTO_QUALITY)),
    (
        "fq:webp:auto:jpg:70",
        Options(format_quality=((OutputFormat.WEBP, AUTO_QUALITY), (OutputFormat.JPEG, 70))),
    ),
    ("fq:webp:70", Options(format_quality=((OutputFormat.WEBP, 70),))),
    (
        "format_quality:jpg:80:avif:50",
        Options(format_quality=((OutputFormat.JPEG, 80), (OutputFormat.AVIF, 50))),
    ),
    ("fq:jpg:80:jpeg:60", Options(format_quality=((OutputFormat.JPEG, 60),))),
    ("f:png", Options(format=OutputFormat.PNG)),
    ("format:jpg", Options(format=OutputFormat.JPEG)),
    ("ext:WEBP", Options(format=OutputFormat.WEBP)),
    ("bg:255:0:10", Options(background=Color(255, 0, 10))),
    ("background:ff000A", Options(background=Color(255, 0, 10))),
    ("bg:", Options(background=None)),
    ("bl:2.5", Options(blur=2.5)),
    ("blur:0", Options(blur=0.0)),
    ("sh:.5", Options(sharpen=0.5)),
    ("sharpen:100", Options(sharpen=100.0)),
    ("rot:90", Options(rotate=90)),
    ("rotate:450", Options(rotate=90)),
    ("rot:-90", Options(rotate=270)),
    ("rot:360", Options(rotate=0)),
    ("ar:0", Options(auto_rotate=False)),
    ("auto_rotate:F", Options(auto_rotate=False)),
    ("sm:false", Options(strip_metadata=False)),
    ("strip_metadata:TRUE", Options(strip_metadata=True)),
    ("cb:v2", Options(cachebuster="v2")),
    ("cachebuster:a%3Ab%20c", Options(cachebuster="a:b c")),
    ("exp:1700000000", Options(expires=1700000000)),
    ("expires:0", Options(expires=None)),
    ("mb:1048576", Options(max_bytes=1048576)),
    ("max_bytes:0", Options(max_bytes=0)),
    ("pg:0", Options(page=0)),
    ("page:12", Options(page=12)),
]


@pytest.mark.parametrize(
    ("segment", "expected"), EVERY_OPTION, ids=[row[0] for row in EVERY_OPTION]
)
def test_every_option_and_alias(segment: str, expected: Options) -> None:
    assert parse(segment) == expected


def test_every_name_in_the_table_is_exercised() -> None:
    used = {segment.split(":")[0] for segment, _ in EVERY_OPTION} | {"pr", "preset"}
    assert used == set(OPTION_NAMES)


@pytest.mark.parametrize("resizing_type", list(ResizingType), ids=lambda t: t.value)
@pytest.mark.parametrize("form", ["rt:{}", "resizing_type:{}", "rs:{}", "fit:{}"])
def test_every_resizing_type(form: str, resizing_type: ResizingType) -> None:
    assert parse(form.format(resizing_type.value)).resizing_type is resizing_type


@pytest.mark.parametrize("gravity_type", list(GravityType), ids=lambda t: t.value)
def test_every_gravity_type(gravity_type: GravityType) -> None:
    assert parse(f"g:{gravity_type.value}").gravity == Gravity(gravity_type)


@pytest.mark.parametrize(
    "gravity_type", [t for t in GravityType if t is not GravityType.SMART], ids=lambda t: t.value
)
def test_every_gravity_type_takes_offsets_and_extends(gravity_type: GravityType) -> None:
    options = parse(f"g:{gravity_type.value}:3:0.5", f"ex:1:{gravity_type.value}:1:2")
    assert options.gravity == Gravity(gravity_type, 3.0, 0.5)
    assert options.extend_gravity == Gravity(gravity_type, 1.0, 2.0)


BOOLEANS = [
    ("1", True), ("t", True), ("true", True), ("T", True), ("True", True),
    ("0", False), ("f", False), ("false", False), ("F", False), ("FALSE", False),
]  # fmt: skip


@pytest.mark.parametrize(("text", "value"), BOOLEANS, ids=[text for text, _ in BOOLEANS])
def test_booleans_as_imgproxy(text: str, value: bool) -> None:
    options = parse(f"el:{text}", f"ar:{text}", f"sm:{text}", f"ex:{text}")
    assert (options.enlarge, options.auto_rotate, options.strip_metadata, options.extend) == (
        value,
        value,
        value,
        value,
    )


# (segment, words the message must contain): every message names the option.
BAD_VALUES = [
    ("w:abc", "option 'w' (width): expected an integer from 0 to 65535, got 'abc'"),
    ("width:-1", "option 'width': expected an integer from 0 to 65535, got '-1'"),
    ("w:65536", "option 'w' (width)"),
    ("w:", "option 'w' (width): expected an integer"),
    ("w:1.5", "option 'w' (width)"),
    ("w:+1", "option 'w' (width)"),
    ("w: 1", "option 'w' (width)"),
    ("w:\u0661", "option 'w' (width)"),  # ARABIC-INDIC DIGIT ONE: int() would take it
    ("w:1_000", "option 'w' (width)"),
    ("w:" + "9" * 5000, "option 'w' (width)"),
    ("h:x", "option 'h' (height)"),
    ("rs:crop", "option 'rs' (resize): resizing type: expected one of fit, fill"),
    ("rs:fill:x", "option 'rs' (resize): width:"),
    ("rs:fill:1:y", "option 'rs' (resize): height:"),
    ("rs:fill:1:1:maybe", "option 'rs' (resize): enlarge: expected a boolean"),
    ("rs:fill:1:1:0:2", "option 'rs' (resize): extend: expected a boolean"),
    ("rs:fill:1:1:0:1:sm", "option 'rs' (resize): gravity type:"),
    ("s:1:1:0:1:xx", "option 's' (size): gravity type:"),
    ("rt:cover", "option 'rt' (resizing_type): expected one of"),
    ("fit:stretch", "option 'fit': expected one of fit, fill, fill-down, force, auto, cover"),
    ("dpr:0", "option 'dpr': expected a number above 0 and up to 8"),
    ("dpr:8.5", "option 'dpr'"),
    ("dpr:nan", "option 'dpr'"),
    ("dpr:inf", "option 'dpr'"),
    ("dpr:1e1", "option 'dpr'"),
    ("el:yes", "option 'el' (enlarge): expected a boolean"),
    ("ex:1:sm", "option 'ex' (extend): gravity type:"),
    ("ex:1:no:1:2:3", "option 'ex' (extend): expected 1 to 4 argument(s), got 5"),
    ("g:up", "option 'g' (gravity): gravity type: expected one of no, so"),
    ("g:sm:1:1", "option 'g' (gravity): smart gravity takes no offsets"),
    ("g:sm:0", "option 'g' (gravity): smart gravity takes no offsets"),
    ("g:no:x", "option 'g' (gravity): x offset:"),
    ("g:no:1:y", "option 'g' (gravity): y offset:"),
    ("g:no:1e9:1", "option 'g' (gravity): x offset:"),
    ("q:101", "option 'q' (quality): expected an integer from 0 to 100 or auto"),
    ("q:AUTO", "option 'q' (quality): expected an integer from 0 to 100 or auto, got 'AUTO'"),
    ("q:-1", "option 'q' (quality): expected an integer from 0 to 100 or auto, got '-1'"),
    ("fq:avif:automatic", "option 'fq' (format_quality): quality: expected an integer"),
    ("quality:-5", "option 'quality'"),
    ("fq:jpg", "option 'fq' (format_quality): expected 2 to 12 argument(s), got 1"),
    ("fq:jpg:80:png", "option 'fq' (format_quality): expected format:quality pairs"),
    ("fq:bmp:80", "option 'fq' (format_quality): format: expected one of jpg"),
    ("fq:jpg:200", "option 'fq' (format_quality): quality:"),
    ("f:bmp", "option 'f' (format): expected one of jpg, jpeg, png, webp, avif, gif, got 'bmp'"),
    ("ext:", "option 'ext' (format)"),
    ("bg:red", "option 'bg' (background): expected R:G:B or 6 hex digits"),
    ("bg:1:2", "option 'bg' (background): expected R:G:B or 6 hex digits"),
    ("bg:256:0:0", "option 'bg' (background): red:"),
    ("bg:0:0:x", "option 'bg' (background): blue:"),
    ("bg:fff", "option 'bg' (background)"),
    ("bl:-1", "option 'bl' (blur): expected a number from 0 to 100"),
    ("bl:101", "option 'bl' (blur)"),
    ("sh:abc", "option 'sh' (sharpen)"),
    ("rot:45", "option 'rot' (rotate): expected a multiple of 90, got '45'"),
    ("rot:x", "option 'rot' (rotate): expected a multiple of 90, got 'x'"),
    ("rot:" + "9" * 21, "option 'rot' (rotate)"),
    ("ar:2", "option 'ar' (auto_rotate)"),
    ("sm:no", "option 'sm' (strip_metadata)"),
    ("cb:" + "x" * 257, "option 'cb' (cachebuster): expected at most 256 printable"),
    ("cb:a%00b", "option 'cb' (cachebuster)"),
    ("cb:%ff", "option 'cb' (cachebuster): arguments are not valid UTF-8"),
    ("exp:-1", "option 'exp' (expires): expected an integer of at least 0, got '-1'"),
    ("exp:soon", "option 'exp' (expires)"),
    ("mb:-1", "option 'mb' (max_bytes)"),
    ("pg:-1", "option 'pg' (page)"),
    ("page:100001", "option 'page'"),
    ("pr:", "option 'pr' (preset): unknown preset ''"),
    ("pr:nope", "option 'pr' (preset): unknown preset 'nope'"),
    ("zoom:2", "unknown option 'zoom'"),
    ("W:300", "unknown option 'W'"),
    (":300", "unknown option ''"),
    ("w%3A300", "unknown option 'w%3A300'"),
]


@pytest.mark.parametrize(
    ("segment", "message"), BAD_VALUES, ids=[row[0][:30] for row in BAD_VALUES]
)
def test_bad_values_name_the_option(segment: str, message: str) -> None:
    assert message in rejected(segment)


# One argument more than each option takes.
TOO_MANY_ARGS = [
    ("rs:fill:1:2:0:1:ce:0:0:9", "expected 1 to 8 argument(s), got 9"),
    ("s:1:2:0:1:ce:0:0:9", "expected 1 to 7 argument(s), got 8"),
    ("rt:fit:fill", "expected 1 argument(s), got 2"),
    ("fit:cover:x", "expected 1 argument(s), got 2"),
    ("w:1:2", "expected 1 argument(s), got 2"),
    ("h:1:2", "expected 1 argument(s), got 2"),
    ("dpr:1:2", "expected 1 argument(s), got 2"),
    ("el:1:1", "expected 1 argument(s), got 2"),
    ("ex:1:ce:0:0:0", "expected 1 to 4 argument(s), got 5"),
    ("g:ce:0:0:0", "expected 1 to 3 argument(s), got 4"),
    ("g:ce:0:0:0:0", "expected 1 to 3 argument(s), got 5"),
    ("q:1:2", "expected 1 argument(s), got 2"),
    ("fq:" + ":".join(["jpg:1"] * 6) + ":png:1", "expected 2 to 12 argument(s), got 14"),
    ("f:png:jpg", "expected 1 argument(s), got 2"),
    ("bg:1:2:3:4", "expected 1 to 3 argument(s), got 4"),
    ("bl:1:2", "expected 1 argument(s), got 2"),
    ("sh:1:2", "expected 1 argument(s), got 2"),
    ("rot:90:90", "expected 1 argument(s), got 2"),
    ("ar:1:1", "expected 1 argument(s), got 2"),
    ("sm:1:1", "expected 1 argument(s), got 2"),
    ("cb:a:b", "expected 1 argument(s), got 2"),
    ("exp:1:2", "expected 1 argument(s), got 2"),
    ("mb:1:2", "expected 1 argument(s), got 2"),
    ("w", "expected 1 argument(s), got 0"),
    ("pr", "expected 1 to 1024 argument(s), got 0"),
]


@pytest.mark.parametrize(
    ("segment", "message"), TOO_MANY_ARGS, ids=[row[0][:30] for row in TOO_MANY_ARGS]
)
def test_wrong_argument_counts(segment: str, message: str) -> None:
    name = segment.split(":")[0]
    assert rejected(segment).startswith(f"option '{name}'")
    assert message in rejected(segment)


def test_options_apply_left_to_right() -> None:
    options = parse("rs:fill:300:400", "w:100", "rt:fit", "q:50", "q:60")
    assert options == Options(ResizingType.FIT, 100, 400, quality=60)


def test_gravity_is_replaced_not_merged() -> None:
    assert parse("g:no:10:20", "g:so").gravity == Gravity(GravityType.SOUTH)


def test_format_quality_merges_with_earlier_entries() -> None:
    options = parse("fq:jpg:80:webp:70", "fq:webp:60")
    assert options.quality_for(OutputFormat.JPEG) == 80
    assert options.quality_for(OutputFormat.WEBP) == 60
    assert options.quality_for(OutputFormat.PNG) == 0


def test_empty_background_drops_an_earlier_one() -> None:
    assert parse("bg:ffffff", "bg:").background is None


PRESETS: dict[str, tuple[str, ...]] = {
    "default": ("q:70", "sm:1"),
    "thumb": ("rs:fill:100:100", "g:sm"),
    "webp": ("f:webp", "q:60"),
    "thumb_webp": ("pr:thumb:webp",),
    "nested": ("pr:thumb_webp", "bl:1"),
}

SMART = Gravity(GravityType.SMART)
WEBP = OutputFormat.WEBP

PRESET_CASES = [
    ("nothing", (), Options(quality=70)),
    ("default first", ("q:90",), Options(quality=90)),
    ("named", ("pr:thumb",), Options(FILL, 100, 100, quality=70, gravity=SMART)),
    ("long alias, several", ("preset:thumb:webp",), Options(FILL, 100, 100, gravity=SMART,
                                                            format=WEBP, quality=60)),
    ("nested", ("pr:nested",), Options(FILL, 100, 100, gravity=SMART, format=WEBP, quality=60,
                                       blur=1.0)),
    ("options after a preset win", ("pr:webp", "q:10"), Options(format=WEBP, quality=10)),
    ("preset after options wins", ("q:10", "pr:webp"), Options(format=WEBP, quality=60)),
    ("default again", ("q:10", "pr:default"), Options(quality=70)),
    ("same preset twice", ("pr:webp:webp",), Options(format=WEBP, quality=60)),
    ("percent-encoded name", ("pr:%77ebp",), Options(format=WEBP, quality=60)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("segments", "expected"),
    [row[1:] for row in PRESET_CASES],
    ids=[row[0] for row in PRESET_CASES],
)
def test_presets(segments: tuple[str, ...], expected: Options) -> None:
    assert parse_options(segments, PRESETS) == expected


RECURSIVE_PRESETS = [
    ("self", {"a": ("pr:a",)}),
    ("mutual", {"a": ("pr:b",), "b": ("w:1", "pr:a")}),
    ("deep", {"a": ("pr:b",), "b": ("pr:c",), "c": ("preset:a",)}),
    ("default", {"default": ("pr:x",), "x": ("pr:default",)}),
]


@pytest.mark.parametrize(
    "presets", [row[1] for row in RECURSIVE_PRESETS], ids=[row[0] for row in RECURSIVE_PRESETS]
)
def test_recursive_presets_are_refused(presets: dict[str, tuple[str, ...]]) -> None:
    name = next(iter(presets))
    assert "uses itself" in rejected(f"pr:{name}", presets=presets)
    with pytest.raises(ValueError, match="uses itself"):
        parse_preset_definitions(",".join(f"{k}={'/'.join(v)}" for k, v in presets.items()))


def test_exponential_presets_hit_the_expansion_cap() -> None:
    # Each level doubles: p20 alone would expand to 2**20 options.
    presets = {"p0": ("w:1",)} | {f"p{i}": (f"pr:p{i - 1}:p{i - 1}",) for i in range(1, 21)}
    message = rejected("pr:p20", presets=presets)
    assert f"more than {MAX_EXPANDED_SEGMENTS} options" in message
    assert parse_options(("pr:p10",), presets).width == 1  # exactly 1024 options: allowed


PRESET_DEFINITIONS = [
    ("empty", "", {}),
    ("one", "thumb=rs:fill:100:100/g:sm", {"thumb": ("rs:fill:100:100", "g:sm")}),
    (
        "several, spaces, trailing comma",
        " default = q:80 , thumb=w:100/pr:default ,",
        {"default": ("q:80",), "thumb": ("w:100", "pr:default")},
    ),
    ("forward reference", "a=pr:b,b=w:1", {"a": ("pr:b",), "b": ("w:1",)}),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [row[1:] for row in PRESET_DEFINITIONS],
    ids=[row[0] for row in PRESET_DEFINITIONS],
)
def test_preset_definitions(text: str, expected: dict[str, tuple[str, ...]]) -> None:
    assert parse_preset_definitions(text) == expected


BAD_PRESET_DEFINITIONS = [
    ("no equals", "thumb", "expected name=option/option..., got 'thumb'"),
    ("no options", "thumb=", "expected name=option/option..."),
    ("no name", "=w:1", "preset name ''"),
    ("bad name", "th:umb=w:1", "preset name 'th:umb'"),
    ("duplicate", "a=w:1,a=w:2", "preset 'a' is defined twice"),
    ("empty option", "a=w:1//h:2", "preset 'a': empty option"),
    ("bad option", "a=w:1,b=w:x", "preset 'b': option 'w' (width): expected an integer"),
    ("unknown option", "a=zoom:2", "preset 'a': unknown option 'zoom'"),
    ("unknown preset", "a=pr:b", "preset 'a': option 'pr' (preset): unknown preset 'b'"),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [row[1:] for row in BAD_PRESET_DEFINITIONS],
    ids=[row[0] for row in BAD_PRESET_DEFINITIONS],
)
def test_bad_preset_definitions(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_preset_definitions(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [row[1:] for row in BAD_PRESET_DEFINITIONS],
    ids=[row[0] for row in BAD_PRESET_DEFINITIONS],
)
def test_bad_presets_setting_names_the_variable(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"PIXGATE_PRESETS: {message}")):
        presets_from_setting(text)


def test_presets_setting_is_read_only() -> None:
    presets = presets_from_setting("thumb=rs:fill:150:150/q:70")
    assert presets == {"thumb": ("rs:fill:150:150", "q:70")}
    with pytest.raises(TypeError):
        presets["big"] = ("w:2000",)  # type: ignore[index]


# -- properties

ARGUMENT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "0", "1", "-90", "0.5", "t", "fill", "sm", "ce", "jpg", "ff0000", "%41"]),
    st.integers(-100000, 100000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
SEGMENT = st.one_of(
    st.sampled_from([segment for segment, _ in EVERY_OPTION] + ["pr:thumb", "pr:nested"]),
    st.text(max_size=30),
    st.builds(
        lambda name, args: ":".join([name, *args]),
        st.sampled_from(sorted(OPTION_NAMES)),
        st.lists(ARGUMENT, max_size=9),
    ),
)


def outcome(parse: Callable[[], T]) -> T | Exception:
    """What `parse` returns, or the exception it raises (asserted on outside `except`)."""
    try:
        return parse()
    except Exception as error:
        return error


@given(segments=st.lists(SEGMENT, max_size=6))
def test_any_segments_parse_or_raise_a_pixgate_error(segments: list[str]) -> None:
    result = outcome(lambda: parse_options(segments, PRESETS))
    if isinstance(result, Exception):
        assert isinstance(result, BadRequest), repr(result)
        assert result.message
        return
    assert 0 <= result.width <= 65535
    assert 0 <= result.height <= 65535
    assert 0 < result.dpr <= 8
    assert result.rotate in (0, 90, 180, 270)


@given(text=st.text(max_size=200))
def test_any_preset_text_parses_or_raises_value_error(text: str) -> None:
    result = outcome(lambda: parse_preset_definitions(text))
    if isinstance(result, Exception):
        assert type(result) is ValueError, repr(result)
        assert str(result)
        return
    assert all(all(segments) for segments in result.values())
