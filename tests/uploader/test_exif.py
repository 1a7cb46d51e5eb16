"""EXIF decoding: libvips field strings in, readable JSON values out, garbage skipped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uploader.exif import (
    MAX_TEXT_LENGTH,
    decode_exif_fields,
    exif_field_names,
    raw_value,
)


def ascii_field(text: str) -> str:
    """A text tag the way libvips renders it."""
    size = len(text.encode()) + 1
    return f"{text} ({text}, ASCII, {size} components, {size} bytes)"


def rational_field(raw: str, rendering: str, components: int = 1) -> str:
    return f"{raw} ({rendering}, Rational, {components} components, {8 * components} bytes)"


def short_field(value: int, rendering: str | None = None) -> str:
    return f"{value} ({rendering or value}, Short, 1 components, 2 bytes)"


RAW_CASES = {
    "ascii": (ascii_field("Canon"), "Canon"),
    "ascii-with-parentheses": (ascii_field("Lens (Mk II), 50mm"), "Lens (Mk II), 50mm"),
    "ascii-holding-a-fake-tail": (
        ascii_field("A (x, ASCII, 1 components, 1 bytes)"),
        "A (x, ASCII, 1 components, 1 bytes)",
    ),
    "ascii-empty": (ascii_field(""), ""),
    "rational": (rational_field("28/10", "f/2.8"), "28/10"),
    "rational-triple": (
        rational_field("48/1 51/1 2400/100", "48, 51, 24.00", 3),
        "48/1 51/1 2400/100",
    ),
    "short-with-libexif-wording": (
        short_field(6, "Internal error (unknown value 6)"),
        "6",
    ),
    "bare-value": ("28/10", "28/10"),
    "undefined": ("0231 (Exif Version 2.31, Undefined, 4 components, 4 bytes)", "0231"),
}


@pytest.mark.parametrize(("field", "expected"), RAW_CASES.values(), ids=RAW_CASES.keys())
def test_raw_value(field: str, expected: str) -> None:
    assert raw_value(field) == expected


# fields -> the decoded dict, whole
DECODE_CASES: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "nothing": ({}, {}),
    "make-model-lens": (
        {
            "exif-ifd0-Make": ascii_field("Canon"),
            "exif-ifd0-Model": ascii_field("Canon EOS R5"),
            "exif-ifd2-LensModel": ascii_field("RF50mm F1.8 STM"),
        },
        {"camera_make": "Canon", "camera_model": "Canon EOS R5", "lens": "RF50mm F1.8 STM"},
    ),
    "make-padded-with-spaces": (
        {"exif-ifd0-Make": ascii_field("NIKON CORPORATION   ")},
        {"camera_make": "NIKON CORPORATION"},
    ),
    "iso": ({"exif-ifd2-ISOSpeedRatings": short_field(200)}, {"iso": 200}),
    "iso-two-components": (
        {"exif-ifd2-ISOSpeedRatings": "800 0 (800 0, Short, 2 components, 4 bytes)"},
        {"iso": 800},
    ),
    "f-number": (
        {"exif-ifd2-FNumber": rational_field("28/10", "f/2.8")},
        {"aperture": "f/2.8", "f_number": 2.8},
    ),
    "f-number-whole": (
        {"exif-ifd2-FNumber": rational_field("11/1", "f/11.0")},
        {"aperture": "f/11", "f_number": 11.0},
    ),
    "f-number-sevenths": (
        {"exif-ifd2-FNumber": rational_field("7/5", "f/1.4")},
        {"aperture": "f/1.4", "f_number": 1.4},
    ),
    "shutter-fraction": (
        {"exif-ifd2-ExposureTime": rational_field("1/250", "1/250 sec.")},
        {"shutter_speed": "1/250 s", "exposure_time": 0.004},
    ),
    "shutter-scaled-fraction": (
        {"exif-ifd2-ExposureTime": rational_field("10/8000", "1/800 sec.")},
        {"shutter_speed": "1/800 s", "exposure_time": 0.00125},
    ),
    "shutter-thirds": (
        {"exif-ifd2-ExposureTime": rational_field("1/3", "1/3 sec.")},
        {"shutter_speed": "1/3 s", "exposure_time": 0.333333},
    ),
    "shutter-long": (
        {"exif-ifd2-ExposureTime": rational_field("25/10", "2.5 sec.")},
        {"shutter_speed": "2.5 s", "exposure_time": 2.5},
    ),
    "shutter-not-a-whole-reciprocal": (
        {"exif-ifd2-ExposureTime": rational_field("3/10", "0.3 sec.")},
        {"shutter_speed": "0.3 s", "exposure_time": 0.3},
    ),
    "focal-length": (
        {"exif-ifd2-FocalLength": rational_field("50/1", "50.0 mm")},
        {"focal_length": "50 mm"},
    ),
    "focal-length-fraction": (
        {"exif-ifd2-FocalLength": rational_field("4250/1000", "4.2 mm")},
        {"focal_length": "4.2 mm"},
    ),
    "date-taken": (
        {"exif-ifd2-DateTimeOriginal": ascii_field("2024:06:21 19:30:00")},
        {"date_taken": "2024-06-21T19:30:00"},
    ),
    "date-taken-with-dashes": (
        {"exif-ifd2-DateTimeOriginal": ascii_field("2024-06-21 19:30:00")},
        {"date_taken": "2024-06-21T19:30:00"},
    ),
    "orientation": (
        {"exif-ifd0-Orientation": short_field(6, "Internal error (unknown value 6)")},
        {"orientation": 6},
    ),
    "bare-values": (
        {"exif-ifd0-Make": "Canon", "exif-ifd2-FNumber": "2.8", "exif-ifd2-ISOSpeedRatings": "100"},
        {"camera_make": "Canon", "aperture": "f/2.8", "f_number": 2.8, "iso": 100},
    ),
}


@pytest.mark.parametrize(("fields", "expected"), DECODE_CASES.values(), ids=DECODE_CASES.keys())
def test_decode(fields: dict[str, str], expected: dict[str, Any]) -> None:
    assert decode_exif_fields(fields, keep_gps=True) == expected


def _gps_fields(lat: str, lat_ref: str, lon: str, lon_ref: str) -> dict[str, str]:
    return {
        "exif-ifd3-GPSLatitude": rational_field(lat, "...", len(lat.split())),
        "exif-ifd3-GPSLatitudeRef": ascii_field(lat_ref),
        "exif-ifd3-GPSLongitude": rational_field(lon, "...", len(lon.split())),
        "exif-ifd3-GPSLongitudeRef": ascii_field(lon_ref),
    }


PARIS = _gps_fields("48/1 51/1 2400/100", "N", "2/1 21/1 300/100", "E")

GPS_CASES: dict[str, tuple[dict[str, str], dict[str, float] | None]] = {
    "paris": (PARIS, {"latitude": 48.856667, "longitude": 2.350833}),
    "south-west": (
        _gps_fields("33/1 52/1 0/1", "S", "151/1 12/1 36/1", "W"),
        {"latitude": -33.866667, "longitude": -151.21},
    ),
    "decimal-minutes": (
        _gps_fields("48/1 5140/100 0/1", "N", "2/1 2105/100 0/1", "E"),
        {"latitude": 48.856667, "longitude": 2.350833},
    ),
    "degrees-only": (
        _gps_fields("48856667/1000000", "N", "2350833/1000000", "E"),
        {"latitude": 48.856667, "longitude": 2.350833},
    ),
    "lowercase-ref": (
        _gps_fields("10/1 0/1 0/1", "n", "20/1 0/1 0/1", "e"),
        {"latitude": 10.0, "longitude": 20.0},
    ),
    "no-fix-zeros": (_gps_fields("0/1 0/1 0/1", "N", "0/1 0/1 0/1", "E"), None),
    "zero-denominator": (_gps_fields("48/0 51/1 0/1", "N", "2/1 21/1 3/1", "E"), None),
    "latitude-over-90": (_gps_fields("91/1 0/1 0/1", "N", "2/1 21/1 3/1", "E"), None),
    "longitude-over-180": (_gps_fields("48/1 0/1 0/1", "N", "181/1 0/1 0/1", "E"), None),
    "bad-reference": (_gps_fields("48/1 51/1 24/1", "X", "2/1 21/1 3/1", "E"), None),
    "empty-reference": (_gps_fields("48/1 51/1 24/1", "", "2/1 21/1 3/1", "E"), None),
    "too-many-components": (
        _gps_fields("48/1 51/1 24/1 1/1", "N", "2/1 21/1 3/1", "E"),
        None,
    ),
}


@pytest.mark.parametrize(("fields", "expected"), GPS_CASES.values(), ids=GPS_CASES.keys())
def test_gps_kept(fields: dict[str, str], expected: dict[str, float] | None) -> None:
    assert decode_exif_fields(fields, keep_gps=True).get("gps") == expected


def test_gps_needs_both_coordinates() -> None:
    fields = dict(PARIS)
    del fields["exif-ifd3-GPSLongitude"]
    assert "gps" not in decode_exif_fields(fields, keep_gps=True)


def test_gps_dropped_unless_kept() -> None:
    fields = {**PARIS, "exif-ifd0-Make": ascii_field("Canon")}
    assert decode_exif_fields(fields, keep_gps=False) == {"camera_make": "Canon"}
    assert not any("GPS" in name for name in exif_field_names(keep_gps=False))
    assert "exif-ifd3-GPSLatitude" in exif_field_names(keep_gps=True)


# Malformed values: the key is left out, nothing raises.
GARBAGE_CASES = {
    "iso-zero": ("exif-ifd2-ISOSpeedRatings", short_field(0)),
    "iso-fraction": ("exif-ifd2-ISOSpeedRatings", "1/3"),
    "iso-negative": ("exif-ifd2-ISOSpeedRatings", "-100 (-100, SShort, 1 components, 2 bytes)"),
    "iso-text": ("exif-ifd2-ISOSpeedRatings", ascii_field("lots")),
    "iso-huge": ("exif-ifd2-ISOSpeedRatings", "9" * 5000),
    "f-number-zero-denominator": ("exif-ifd2-FNumber", rational_field("28/0", "")),
    "f-number-zero": ("exif-ifd2-FNumber", rational_field("0/10", "f/0.0")),
    "f-number-nan": ("exif-ifd2-FNumber", "nan"),
    "f-number-inf": ("exif-ifd2-FNumber", "inf"),
    "f-number-exponent": ("exif-ifd2-FNumber", "1e400"),
    "f-number-unicode-digits": ("exif-ifd2-FNumber", "\u0662\u0668/\u0661\u0660"),
    "exposure-zero": ("exif-ifd2-ExposureTime", rational_field("0/1", "0 sec.")),
    "exposure-empty": ("exif-ifd2-ExposureTime", ""),
    "exposure-days": ("exif-ifd2-ExposureTime", rational_field("100000/1", "")),
    "focal-length-words": ("exif-ifd2-FocalLength", ascii_field("fifty")),
    "date-blank": ("exif-ifd2-DateTimeOriginal", ascii_field("0000:00:00 00:00:00")),
    "date-impossible": ("exif-ifd2-DateTimeOriginal", ascii_field("2024:02:30 25:00:00")),
    "date-spaces": ("exif-ifd2-DateTimeOriginal", ascii_field("    :  :     :  :  ")),
    "orientation-zero": ("exif-ifd0-Orientation", short_field(0)),
    "orientation-nine": ("exif-ifd0-Orientation", short_field(9)),
    "make-only-controls": ("exif-ifd0-Make", ascii_field("\x00\x01\x1b\u202e")),
    "make-only-spaces": ("exif-ifd0-Make", ascii_field("   ")),
}


@pytest.mark.parametrize(("name", "value"), GARBAGE_CASES.values(), ids=GARBAGE_CASES.keys())
def test_garbage_is_skipped(name: str, value: str) -> None:
    fields = {name: value, "exif-ifd0-Model": ascii_field("kept")}
    assert decode_exif_fields(fields, keep_gps=True) == {"camera_model": "kept"}


TEXT_CASES = {
    "nul-and-controls": ("Can\x00on\x07", "Canon"),
    "newlines-collapse": ("Canon\r\nEOS\tR5", "Canon EOS R5"),
    "bidi-override": ("\u202eCanon", "Canon"),
    "accents-kept": ("Ricoh Pentax \u00e9dition", "Ricoh Pentax \u00e9dition"),
    "capped": ("x" * 50_000, "x" * MAX_TEXT_LENGTH),
}


@pytest.mark.parametrize(("text", "expected"), TEXT_CASES.values(), ids=TEXT_CASES.keys())
def test_text_is_cleaned_and_capped(text: str, expected: str) -> None:
    decoded = decode_exif_fields({"exif-ifd0-Make": text}, keep_gps=False)
    assert decoded == {"camera_make": expected}


def test_non_string_values_are_skipped() -> None:
    fields: dict[str, Any] = {"exif-ifd0-Make": b"Canon", "exif-ifd2-ISOSpeedRatings": 200}
    assert decode_exif_fields(fields, keep_gps=True) == {}


FIELD_NAMES = st.sampled_from(exif_field_names(keep_gps=True)) | st.text(max_size=30)
FIELD_VALUES = (
    st.text(max_size=200)
    | st.builds(ascii_field, st.text(max_size=60))
    | st.builds(
        lambda parts: rational_field(" ".join(parts), "x", len(parts)),
        st.lists(st.from_regex(r"\A-?\d{0,14}/?\d{0,14}\Z"), min_size=0, max_size=4),
    )
)


@settings(max_examples=300)
@given(fields=st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=16), keep_gps=st.booleans())
def test_any_mapping_of_text_decodes_to_json(fields: dict[str, str], keep_gps: bool) -> None:
    decoded = decode_exif_fields(fields, keep_gps=keep_gps)
    encoded = json.dumps(decoded, allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert json.loads(encoded) == decoded
    assert keep_gps or "gps" not in decoded
    for value in decoded.values():
        if isinstance(value, str):
            assert value.isprintable() and 0 < len(value) <= MAX_TEXT_LENGTH
