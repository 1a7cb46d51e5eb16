"""Option segments (`rs:fill:300:400`, `w:300`, ...) parsed into :class:`Options`.

One table maps every option name and alias to one small parser; adding an option is one
row and one function. Parsers are pure: they take the current `Options` and the option's
percent-decoded arguments and return new `Options`, or raise `_Invalid` with what was
expected. Semantics and names follow imgproxy.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import unquote

from config import SettingsError
from proxy.errors import BadRequest
from proxy.options import (
    AUTO_QUALITY,
    FORMAT_EXTENSIONS,
    Color,
    Gravity,
    GravityType,
    Options,
    OutputFormat,
    ResizingType,
)

MAX_DIMENSION = 65535
MAX_DPR = 8.0
MAX_SIGMA = 100.0
MAX_CACHEBUSTER_LENGTH = 256
# Bounds the work one URL can cause through nested presets (`pr:a:a:a` with large `a`).
MAX_EXPANDED_SEGMENTS = 1024
_MAX_INT64 = 2**63 - 1

_INT = re.compile(r"-?[0-9]{1,20}")  # digit cap: int() of huge strings is slow or raises
_FLOAT = re.compile(r"-?(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})")
_HEX_COLOR = re.compile(r"[0-9a-fA-F]{6}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"0", "f", "false"})
_T = TypeVar("_T")


class _Invalid(ValueError):
    """An argument is wrong; the message says what was expected and what came."""


_Parser = Callable[[Options, tuple[str, ...]], Options]


@dataclass(frozen=True, slots=True)
class _Option:
    name: str
    aliases: tuple[str, ...]
    parse: _Parser | None  # None only for `preset`, which is expanded before parsing
    min_args: int = 1
    max_args: int = 1


def _show(value: str) -> str:
    """The value for an error message: quoted, escaped and not too long."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _int(value: str, low: int, high: int, what: str = "") -> int:
    if _INT.fullmatch(value) and low <= int(value) <= high:
        return int(value)
    expected = f"from {low} to {high}" if high < _MAX_INT64 else f"of at least {low}"
    raise _Invalid(f"{what}expected an integer {expected}, got {_show(value)}")


def _float(value: str, low: float, high: float, what: str = "") -> float:
    if _FLOAT.fullmatch(value) and low <= float(value) <= high:
        return float(value)
    raise _Invalid(f"{what}expected a number from {low:g} to {high:g}, got {_show(value)}")


def _bool(value: str, what: str = "") -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _Invalid(f"{what}expected a boolean (1, t, true, 0, f, false), got {_show(value)}")


def _choice(value: str, choices: Mapping[str, _T], what: str = "") -> _T:
    if value in choices:
        return choices[value]
    raise _Invalid(f"{what}expected one of {', '.join(choices)}, got {_show(value)}")


_RESIZING_TYPES = {member.value: member for member in ResizingType}
# `fit` (the query form's name) also takes CSS object-fit words.
_FIT_TYPES = {**_RESIZING_TYPES, "cover": ResizingType.FILL, "contain": ResizingType.FIT}
_GRAVITY_TYPES = {member.value: member for member in GravityType}
_EXTEND_GRAVITY_TYPES = {k: v for k, v in _GRAVITY_TYPES.items() if v is not GravityType.SMART}


def _gravity(args: tuple[str, ...], types: Mapping[str, GravityType]) -> Gravity:
    """`type[:x_offset:y_offset]`; a fresh value, so `g:no` drops earlier offsets."""
    gravity_type = _choice(args[0], types, "gravity type: ")
    if gravity_type is GravityType.SMART and len(args) > 1:
        raise _Invalid("smart gravity takes no offsets")
    x, y = (*args[1:], "0", "0")[:2]
    offset = (-MAX_DIMENSION, MAX_DIMENSION)
    return Gravity(gravity_type, _float(x, *offset, "x offset: "), _float(y, *offset, "y offset: "))


# -- one parser per option. In resize/size/extend an empty argument leaves the value as is.


def _width(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, width=_int(args[0], 0, MAX_DIMENSION))


def _height(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, height=_int(args[0], 0, MAX_DIMENSION))


def _resizing_type(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, resizing_type=_choice(args[0], _RESIZING_TYPES))


def _fit(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, resizing_type=_choice(args[0], _FIT_TYPES))


def _extend(options: Options, args: tuple[str, ...]) -> Options:
    if args[0]:
        options = dataclasses.replace(options, extend=_bool(args[0], "extend: "))
    if len(args) > 1:
        gravity = _gravity(args[1:], _EXTEND_GRAVITY_TYPES)
        options = dataclasses.replace(options, extend_gravity=gravity)
    return options


def _size(options: Options, args: tuple[str, ...]) -> Options:
    """`width:height:enlarge:extend[:gravity:x:y]`, all optional."""
    width, height, enlarge = (*args[:3], "", "", "")[:3]
    if width:
        options = dataclasses.replace(options, width=_int(width, 0, MAX_DIMENSION, "width: "))
    if height:
        options = dataclasses.replace(options, height=_int(height, 0, MAX_DIMENSION, "height: "))
    if enlarge:
        options = dataclasses.replace(options, enlarge=_bool(enlarge, "enlarge: "))
    return _extend(options, args[3:]) if len(args) > 3 else options


def _resize(options: Options, args: tuple[str, ...]) -> Options:
    """`type:width:height:enlarge:extend[:gravity:x:y]`, all but type optional."""
    if args[0]:
        resizing_type = _choice(args[0], _RESIZING_TYPES, "resizing type: ")
        options = dataclasses.replace(options, resizing_type=resizing_type)
    return _size(options, args[1:])


def _dpr(options: Options, args: tuple[str, ...]) -> Options:
    if not (_FLOAT.fullmatch(args[0]) and 0.0 < float(args[0]) <= MAX_DPR):
        raise _Invalid(f"expected a number above 0 and up to {MAX_DPR:g}, got {_show(args[0])}")
    return dataclasses.replace(options, dpr=float(args[0]))


def _enlarge(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, enlarge=_bool(args[0]))


def _gravity_option(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, gravity=_gravity(args, _GRAVITY_TYPES))


def _quality_value(value: str, what: str = "") -> int:
    """1-100, 0 (the configured default) or `auto`."""
    if value == "auto":
        return AUTO_QUALITY
    if _INT.fullmatch(value) and 0 <= int(value) <= 100:
        return int(value)
    raise _Invalid(f"{what}expected an integer from 0 to 100 or auto, got {_show(value)}")


def _quality(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, quality=_quality_value(args[0]))


def _output_format(value: str, what: str = "") -> OutputFormat:
    return _choice(value.lower(), FORMAT_EXTENSIONS, what)


def _format_quality(options: Options, args: tuple[str, ...]) -> Options:
    if len(args) % 2:
        raise _Invalid(f"expected format:quality pairs, got {len(args)} arguments")
    merged = dict(options.format_quality)
    for fmt, quality in zip(args[::2], args[1::2], strict=True):
        merged[_output_format(fmt, "format: ")] = _quality_value(quality, "quality: ")
    return dataclasses.replace(options, format_quality=tuple(merged.items()))


def _format(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, format=_output_format(args[0]))


def _background(options: Options, args: tuple[str, ...]) -> Options:
    """`R:G:B`, `hexcolor`, or empty to drop a background set earlier (e.g. by a preset)."""
    if args == ("",):
        return dataclasses.replace(options, background=None)
    if len(args) == 1 and _HEX_COLOR.fullmatch(args[0]):
        red, green, blue = (int(args[0][i : i + 2], 16) for i in (0, 2, 4))
    elif len(args) == 3:
        channels = zip(args, ("red", "green", "blue"), strict=True)
        red, green, blue = (_int(arg, 0, 255, f"{name}: ") for arg, name in channels)
    else:
        raise _Invalid(f"expected R:G:B or 6 hex digits, got {_show(':'.join(args))}")
    return dataclasses.replace(options, background=Color(red, green, blue))


def _blur(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, blur=_float(args[0], 0.0, MAX_SIGMA))


def _sharpen(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, sharpen=_float(args[0], 0.0, MAX_SIGMA))


def _rotate(options: Options, args: tuple[str, ...]) -> Options:
    if not (_INT.fullmatch(args[0]) and int(args[0]) % 90 == 0):
        raise _Invalid(f"expected a multiple of 90, got {_show(args[0])}")
    return dataclasses.replace(options, rotate=int(args[0]) % 360)


def _auto_rotate(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, auto_rotate=_bool(args[0]))


def _strip_metadata(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, strip_metadata=_bool(args[0]))


def _cachebuster(options: Options, args: tuple[str, ...]) -> Options:
    # It ends up in cache keys and logs: keep it short and printable.
    if len(args[0]) > MAX_CACHEBUSTER_LENGTH or _CONTROL.search(args[0]):
        raise _Invalid(
            f"expected at most {MAX_CACHEBUSTER_LENGTH} printable characters, got {_show(args[0])}"
        )
    return dataclasses.replace(options, cachebuster=args[0])


def _expires(options: Options, args: tuple[str, ...]) -> Options:
    timestamp = _int(args[0], 0, _MAX_INT64)
    # As in imgproxy, 0 means "never expires".
    return dataclasses.replace(options, expires=timestamp or None)


def _max_bytes(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, max_bytes=_int(args[0], 0, _MAX_INT64))


# Frames of an animation are numbered from 0, as imgproxy numbers pages.
MAX_PAGE = 100_000


def _page(options: Options, args: tuple[str, ...]) -> Options:
    return dataclasses.replace(options, page=_int(args[0], 0, MAX_PAGE))


_OPTIONS = (
    _Option("resize", ("rs",), _resize, max_args=8),
    _Option("size", ("s",), _size, max_args=7),
    _Option("resizing_type", ("rt",), _resizing_type),
    _Option("fit", (), _fit),
    _Option("width", ("w",), _width),
    _Option("height", ("h",), _height),
    _Option("dpr", (), _dpr),
    _Option("enlarge", ("el",), _enlarge),
    _Option("extend", ("ex",), _extend, max_args=4),
    _Option("gravity", ("g",), _gravity_option, max_args=3),
    _Option("quality", ("q",), _quality),
    _Option("format_quality", ("fq",), _format_quality, 2, 2 * len(FORMAT_EXTENSIONS)),
    _Option("format", ("f", "ext"), _format),
    _Option("background", ("bg",), _background, max_args=3),
    _Option("blur", ("bl",), _blur),
    _Option("sharpen", ("sh",), _sharpen),
    _Option("rotate", ("rot",), _rotate),
    _Option("auto_rotate", ("ar",), _auto_rotate),
    _Option("strip_metadata", ("sm",), _strip_metadata),
    _Option("cachebuster", ("cb",), _cachebuster),
    _Option("expires", ("exp",), _expires),
    _Option("max_bytes", ("mb",), _max_bytes),
    _Option("page", ("pg",), _page),
    _Option("preset", ("pr",), None, max_args=MAX_EXPANDED_SEGMENTS),
)
_BY_NAME = {name: option for option in _OPTIONS for name in (option.name, *option.aliases)}

#: Every accepted option name or alias, mapped to its canonical name.
OPTION_NAMES: Mapping[str, str] = MappingProxyType({k: v.name for k, v in _BY_NAME.items()})


_Split = tuple[str, _Option, tuple[str, ...]]


def _split(segment: str) -> _Split:
    """The name as written, its table row and its percent-decoded arguments."""
    name, *raw_args = segment.split(":")
    option = _BY_NAME.get(name)
    if option is None:
        raise BadRequest(f"unknown option {_show(name)}", code="invalid_option")
    label = f"option {name!r}" + (f" ({option.name})" if name != option.name else "")
    try:
        args = tuple(unquote(arg, errors="strict") for arg in raw_args)
    except UnicodeDecodeError:
        raise BadRequest(f"{label}: arguments are not valid UTF-8", code="invalid_option") from None
    if not option.min_args <= len(args) <= option.max_args:
        expected = (
            str(option.min_args)
            if option.min_args == option.max_args
            else f"{option.min_args} to {option.max_args}"
        )
        raise BadRequest(
            f"{label}: expected {expected} argument(s), got {len(args)}", code="invalid_option"
        )
    return label, option, args


def _expand(
    segments: Sequence[str], presets: Mapping[str, tuple[str, ...]], active: tuple[str, ...]
) -> Iterator[_Split]:
    """Yield `segments`, split, with every `preset` segment replaced by the presets' segments.

    Lazy, so the caller's cap stops a runaway expansion early; `active` holds the presets
    being expanded, to refuse a preset that (indirectly) uses itself.
    """
    for segment in segments:
        label, option, args = split = _split(segment)
        if option.parse is not None:
            yield split
            continue
        for preset in args:
            if preset not in presets:
                raise BadRequest(f"{label}: unknown preset {_show(preset)}", code="invalid_option")
            if preset in active:
                raise BadRequest(f"{label}: preset {preset!r} uses itself", code="invalid_option")
            yield from _expand(presets[preset], presets, (*active, preset))


def _apply(
    options: Options,
    segments: Sequence[str],
    presets: Mapping[str, tuple[str, ...]],
    active: tuple[str, ...],
) -> Options:
    expanded = itertools.islice(_expand(segments, presets, active), MAX_EXPANDED_SEGMENTS + 1)
    for count, (label, option, args) in enumerate(expanded, 1):
        if count > MAX_EXPANDED_SEGMENTS:
            raise BadRequest(
                f"more than {MAX_EXPANDED_SEGMENTS} options after expanding presets",
                code="invalid_option",
            )
        assert option.parse is not None  # _expand yields no preset segments
        try:
            options = option.parse(options, args)
        except _Invalid as error:
            raise BadRequest(f"{label}: {error}", code="invalid_option") from None
    return options


def parse_options(segments: Sequence[str], presets: Mapping[str, tuple[str, ...]]) -> Options:
    """Apply option segments left to right on `Options()`, after the `default` preset.

    Raises BadRequest (code ``invalid_option``) naming the option and what it expected.
    """
    options = Options()
    if "default" in presets:
        options = _apply(options, presets["default"], presets, ("default",))
    return _apply(options, segments, presets, ())


_PRESET_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def parse_preset_definitions(text: str) -> dict[str, tuple[str, ...]]:
    """Parse imgproxy's presets form `name=opt/opt,name2=opt` and check every preset.

    Whitespace around entries and empty entries are ignored. Raises ValueError naming the
    preset and the problem.
    """
    presets: dict[str, tuple[str, ...]] = {}
    for entry in (entry.strip() for entry in text.split(",")):
        if not entry:
            continue
        name, equals, body = (part.strip() for part in entry.partition("="))
        if not equals or not body:
            raise ValueError(f"expected name=option/option..., got {entry!r}")
        if not _PRESET_NAME.fullmatch(name):
            raise ValueError(f"preset name {name!r}: expected letters, digits, '_', '.' or '-'")
        if name in presets:
            raise ValueError(f"preset {name!r} is defined twice")
        segments = tuple(body.split("/"))
        if "" in segments:
            raise ValueError(f"preset {name!r}: empty option in {body!r}")
        presets[name] = segments
    for name, segments in presets.items():
        try:
            _apply(Options(), segments, presets, (name,))
        except BadRequest as error:
            raise ValueError(f"preset {name!r}: {error.message}") from None
    return presets


def presets_from_setting(text: str) -> Mapping[str, tuple[str, ...]]:
    """The presets of PIXGATE_PRESETS's `text`, read-only. Raises SettingsError naming the
    variable on a bad value, so the proxy checks it once at start-up."""
    try:
        return MappingProxyType(parse_preset_definitions(text))
    except ValueError as error:
        raise SettingsError(f"PIXGATE_PRESETS: {error}") from None
