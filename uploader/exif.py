"""Decode the EXIF tags libvips exposes into a few readable, JSON-serialisable values.

libvips parses the EXIF block of every format it loads into string fields named
``exif-ifd<N>-<Tag>``, each holding the raw value and libexif's rendering of it:
``"28/10 (f/2.8, Rational, 1 components, 8 bytes)"``, ``"Canon (Canon, ASCII, 6 components,
6 bytes)"``. We read the raw part and format it ourselves, so the output does not depend on
libexif's wording. The file is hostile: a malformed value is skipped, text is cleaned of
control characters and capped, and nothing here raises.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from fractions import Fraction
from typing import Any

MAX_TEXT_LENGTH = 128

# Integer and rational formats: libvips writes their raw values as numbers, never " (".
_NUMERIC_FORMATS = frozenset(
    {"Byte", "SByte", "Short", "SShort", "Long", "SLong", "Rational", "SRational"}
)
# What libvips appends to every value; anchored at the end, where a hostile value cannot
# reach.
_TAIL = re.compile(
    r", (?P<format>[A-Za-z]{1,16}), \d{1,10} components, \d{1,10} bytes\)\Z", re.ASCII
)
_RATIONAL = re.compile(r"\A(\d{1,12})/(\d{1,12})\Z", re.ASCII)
_DECIMAL = re.compile(r"\A\d{1,12}(?:\.\d{1,12})?\Z", re.ASCII)
_DATE_TIME = re.compile(r"\A(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})", re.ASCII)


def raw_value(field: str) -> str:
    """The value of a libvips EXIF field without libvips' ``" (rendering, Format, ...)"``."""
    tail = _TAIL.search(field)
    if tail is None:
        return field  # a bare value, as when a field was set by hand
    head = field[: tail.start()]  # "raw (rendering"
    if tail["format"] not in _NUMERIC_FORMATS:
        # Text is written as "text (text": the same text twice, which may hold " (".
        half, odd = divmod(len(head) - 2, 2)
        text, between, again = head[:half], head[half : half + 2], head[half + 2 :]
        if not odd and half >= 0 and between == " (" and text == again:
            return text
    raw, separator, _ = head.partition(" (")
    return raw if separator else field


# --- value parsers: raw value -> output value, or None when malformed ----------------------


def clean_text(value: str) -> str | None:
    """Printable text on one line, capped; None if nothing printable is left."""
    kept = "".join(
        " " if char.isspace() else char
        for char in value[: MAX_TEXT_LENGTH * 4]
        if char.isspace() or not unicodedata.category(char).startswith("C")
    )
    text = " ".join(kept.split())[:MAX_TEXT_LENGTH].strip()
    return text or None


def _number(value: str) -> Fraction | None:
    """The first component of a raw value ("28/10", "2.8", "48/1 51/1 24/1") as a fraction."""
    parts = value.split()
    return _component(parts[0]) if parts else None


def _component(text: str) -> Fraction | None:
    if (rational := _RATIONAL.match(text)) is not None:
        numerator, denominator = int(rational[1]), int(rational[2])
        return Fraction(numerator, denominator) if denominator else None
    if _DECIMAL.match(text) is not None:
        return Fraction(text)
    return None


def _positive(value: str, upper: float) -> float | None:
    number = _number(value)
    if number is None or not 0 < number <= upper:
        return None
    result = float(number)
    return result if math.isfinite(result) else None


def _integer(value: str, lower: int, upper: int) -> int | None:
    number = _number(value)
    if number is None or number.denominator != 1 or not lower <= number <= upper:
        return None
    return int(number)


def _significant(number: float, digits: int = 6) -> float:
    return float(f"{number:.{digits}g}")


def _iso(value: str) -> int | None:
    return _integer(value, 1, 10_000_000)


def _orientation(value: str) -> int | None:
    return _integer(value, 1, 8)


def _f_number(value: str) -> float | None:
    number = _positive(value, 1000)
    return None if number is None else round(number, 2)


def _aperture(value: str) -> str | None:
    number = _f_number(value)
    return None if number is None else f"f/{round(number, 1):g}"


def _exposure_time(value: str) -> float | None:
    seconds = _positive(value, 24 * 3600)
    return None if seconds is None else _significant(seconds)


def _shutter_speed(value: str) -> str | None:
    """Photographers' notation: "1/250 s" below a second (when 1/t is near whole), "2.5 s"."""
    seconds = _positive(value, 24 * 3600)
    if seconds is None:
        return None
    if seconds < 1:
        reciprocal = 1 / seconds
        if abs(reciprocal - round(reciprocal)) <= 0.01 * reciprocal:
            return f"1/{round(reciprocal)} s"
    return f"{_significant(seconds, 3):g} s"


def _focal_length(value: str) -> str | None:
    millimetres = _positive(value, 100_000)
    return None if millimetres is None else f"{round(millimetres, 1):g} mm"


def _date_taken(value: str) -> str | None:
    """ISO 8601 local time ("2024-06-21T19:30:00"); EXIF dates carry no zone."""
    match = _DATE_TIME.match(value.strip())
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(group) for group in match.groups())
        taken = datetime(year, month, day, hour, minute, second)
    except ValueError:  # "0000:00:00 00:00:00" is how cameras without a clock say "unknown"
        return None
    return taken.isoformat()


def _degrees(value: str, reference: str, positive: str, negative: str, limit: int) -> float | None:
    """Degrees from GPS "deg min sec" rationals and a hemisphere letter; None if malformed."""
    hemisphere = reference.strip().upper()[:1]
    if hemisphere not in (positive, negative):
        return None
    parts = value.split()
    if not 1 <= len(parts) <= 3:
        return None
    components = [_component(part) for part in parts]
    if any(component is None for component in components):
        return None
    total = sum((c / 60**i for i, c in enumerate(components) if c is not None), start=Fraction(0))
    if total > limit:
        return None
    degrees = round(float(total), 6)
    return -degrees if hemisphere == negative and degrees else degrees


# --- the table ---------------------------------------------------------------------------

_Parser = Callable[[str], Any]

# output key -> (libvips field, parser). Several keys may read one field.
_DECODERS: dict[str, tuple[str, _Parser]] = {
    "camera_make": ("exif-ifd0-Make", clean_text),
    "camera_model": ("exif-ifd0-Model", clean_text),
    "lens": ("exif-ifd2-LensModel", clean_text),
    "iso": ("exif-ifd2-ISOSpeedRatings", _iso),
    "aperture": ("exif-ifd2-FNumber", _aperture),
    "f_number": ("exif-ifd2-FNumber", _f_number),
    "shutter_speed": ("exif-ifd2-ExposureTime", _shutter_speed),
    "exposure_time": ("exif-ifd2-ExposureTime", _exposure_time),
    "focal_length": ("exif-ifd2-FocalLength", _focal_length),
    "date_taken": ("exif-ifd2-DateTimeOriginal", _date_taken),
    "orientation": ("exif-ifd0-Orientation", _orientation),
}

_GPS_FIELDS = (
    "exif-ifd3-GPSLatitude",
    "exif-ifd3-GPSLatitudeRef",
    "exif-ifd3-GPSLongitude",
    "exif-ifd3-GPSLongitudeRef",
)


def exif_field_names(*, keep_gps: bool) -> tuple[str, ...]:
    """The libvips fields `decode_exif_fields` reads: the only ones worth fetching."""
    names = dict.fromkeys(field for field, _ in _DECODERS.values())
    return (*names, *(_GPS_FIELDS if keep_gps else ()))


def decode_exif_fields(fields: Mapping[str, str], *, keep_gps: bool) -> dict[str, Any]:
    """Readable EXIF values from libvips field name -> string value. Keys whose tag is absent
    or malformed are left out; ``gps`` only with `keep_gps`. Never raises."""
    decoded: dict[str, Any] = {}
    for key, (name, parse) in _DECODERS.items():
        value = _parse(fields, name, parse)
        if value is not None:
            decoded[key] = value
    if keep_gps and (gps := _gps(fields)) is not None:
        decoded["gps"] = gps
    return decoded


def decode_exif(image: Any, *, keep_gps: bool) -> dict[str, Any]:
    """`decode_exif_fields` over the EXIF fields of a (lazily loaded) `pyvips.Image`."""
    fields: dict[str, str] = {}
    for name in exif_field_names(keep_gps=keep_gps):
        if image.get_typeof(name) != 0 and isinstance(value := image.get(name), str):
            fields[name] = value
    return decode_exif_fields(fields, keep_gps=keep_gps)


def _raw(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name)
    return raw_value(value) if isinstance(value, str) else None


def _parse(fields: Mapping[str, str], name: str, parse: _Parser) -> Any:
    value = _raw(fields, name)
    if value is None:
        return None
    try:
        return parse(value)
    except (ValueError, ArithmeticError):  # belt and braces: the parsers check as they go
        return None


def _gps(fields: Mapping[str, str]) -> dict[str, float] | None:
    def latitude(value: str) -> float | None:
        reference = _raw(fields, "exif-ifd3-GPSLatitudeRef") or ""
        return _degrees(value, reference, "N", "S", 90)

    def longitude(value: str) -> float | None:
        reference = _raw(fields, "exif-ifd3-GPSLongitudeRef") or ""
        return _degrees(value, reference, "E", "W", 180)

    lat = _parse(fields, "exif-ifd3-GPSLatitude", latitude)
    lon = _parse(fields, "exif-ifd3-GPSLongitude", longitude)
    if lat is None or lon is None:
        return None
    if lat == 0 and lon == 0:  # what receivers without a fix write
        return None
    return {"latitude": lat, "longitude": lon}
