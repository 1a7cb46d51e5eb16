"""What the image page shows, as pure functions of a record: links, snippets, rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pixgate_signing import UrlBuilder

from uploader.models import ImageRecord
from uploader.web import imageview
from uploader.web.pages import content_security_policy

BASE = "https://img.example.com"
IMAGE_ID = "img_" + "b" * 20


def record(width: int = 1600, height: int = 1200, **changes: Any) -> ImageRecord:
    values: dict[str, Any] = {
        "image_id": IMAGE_ID,
        "owner": None,
        "title": "",
        "description": "",
        "width": width,
        "height": height,
        "format": "jpeg",
        "size_bytes": 1_234_567,
        "sha256": "0" * 64,
        "storage_key": f"originals/{IMAGE_ID}",
        "processing_status": "completed",
        "uploaded_at": datetime(2026, 11, 25, 9, 5, tzinfo=UTC),
        **changes,
    }
    return ImageRecord(**values)


def links(image: ImageRecord) -> imageview.PageLinks:
    return imageview.page_links(UrlBuilder(BASE, b"key", b"salt"), image)


@pytest.mark.parametrize(
    ("width", "height", "srcset"),
    [
        pytest.param(1600, 1200, "_s 150w, _m 500w, _l 1200w", id="landscape"),
        pytest.param(900, 1600, "_s 84w, _m 281w, _l 675w", id="portrait"),
        pytest.param(300, 200, "_s 150w, _m 300w", id="small-original-once"),
        pytest.param(100, 80, "_s 100w", id="tiny-original-once"),
    ],
)
def test_srcset_uses_real_widths_and_negotiated_links(width: int, height: int, srcset: str) -> None:
    expected = ", ".join(f"{BASE}/{IMAGE_ID}{entry}" for entry in srcset.split(", "))
    page = links(record(width, height))
    assert page.srcset == expected
    assert page.photo == f"{BASE}/{IMAGE_ID}_m"
    assert page.placeholder == f"{BASE}/{IMAGE_ID}_t"


@pytest.mark.parametrize(
    ("image_format", "ext"),
    [
        pytest.param("jpeg", "jpg", id="jpeg"),
        pytest.param("png", "png", id="png"),
        pytest.param("heif", "jpg", id="heif-as-jpeg"),
    ],
)
def test_copy_links_carry_the_extension(image_format: str, ext: str) -> None:
    page = links(record(format=image_format))
    assert page.original == f"{BASE}/{IMAGE_ID}.{ext}"
    assert [(size.name, size.url, size.width) for size in page.sizes] == [
        ("small", f"{BASE}/{IMAGE_ID}_s.{ext}", 150),
        ("medium", f"{BASE}/{IMAGE_ID}_m.{ext}", 500),
        ("large", f"{BASE}/{IMAGE_ID}_l.{ext}", 1200),
    ]


def test_embed_snippets_escape_the_title() -> None:
    image = record(title='A "quoted" [title] <b>')
    page = links(image)
    html = imageview.embed_html(page, image)
    assert html == (
        f'<img src="{BASE}/{IMAGE_ID}_m" srcset="{page.srcset}" '
        'sizes="(max-width: 500px) 100vw, 500px" width="500" height="375" '
        'alt="A &quot;quoted&quot; [title] &lt;b&gt;" loading="lazy">'
    )
    assert imageview.embed_markdown(page, image) == (
        f'![A "quoted" \\[title\\] <b>]({BASE}/{IMAGE_ID}_l.jpg)'
    )
    assert imageview.embed_bbcode(page) == f"[img]{BASE}/{IMAGE_ID}_l.jpg[/img]"
    assert imageview.alt_text(record()) == "Uploaded image"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        pytest.param(0, "0 bytes", id="zero"),
        pytest.param(1023, "1023 bytes", id="bytes"),
        pytest.param(1536, "1.5 KB", id="kb-decimal"),
        pytest.param(100_000, "98 KB", id="kb-rounded"),
        pytest.param(20 * 1024 * 1024, "20 MB", id="mb"),
        pytest.param(1_234_567, "1.2 MB", id="mb-decimal"),
        pytest.param(5 * 1024**4, "5120 GB", id="gb-cap"),
    ],
)
def test_human_bytes_matches_the_page_script(size: int, text: str) -> None:
    assert imageview.human_bytes(size) == text


def test_details_and_summary() -> None:
    image = record()
    assert imageview.detail_rows(image, 1234) == [
        ("Views", "1,234 views"),
        ("Dimensions", "1600 \N{MULTIPLICATION SIGN} 1200 px"),
        ("Format", "JPEG"),
        ("File size", "1.2 MB"),
        ("Uploaded", "25 Nov 2026, 09:05 UTC"),
    ]
    assert imageview.detail_rows(image, 1)[0] == ("Views", "1 view")
    assert imageview.detail_rows(image)[0] == ("Views", "0 views")
    assert imageview.summary(image) == (
        "1600 \N{MULTIPLICATION SIGN} 1200 · JPEG · 1.2 MB · uploaded 25 Nov 2026"
    )


@pytest.mark.parametrize(
    ("exif", "rows"),
    [
        pytest.param({}, [], id="none"),
        pytest.param(
            {
                "camera_make": "Canon",
                "camera_model": "Canon EOS R5",
                "lens": "RF50mm F1.8 STM",
                "iso": 400,
                "aperture": "f/2.8",
                "f_number": 2.8,
                "shutter_speed": "1/250 s",
                "exposure_time": 0.004,
                "focal_length": "50 mm",
                "date_taken": "2024-06-21T19:30:00",
                "orientation": 1,
            },
            [
                ("Camera", "Canon EOS R5"),
                ("Lens", "RF50mm F1.8 STM"),
                ("ISO", "400"),
                ("Aperture", "f/2.8"),
                ("Shutter speed", "1/250 s"),
                ("Focal length", "50 mm"),
                ("Taken", "21 Jun 2024, 19:30"),
            ],
            id="full",
        ),
        pytest.param(
            {"camera_make": "Fujifilm", "camera_model": "X-T5"},
            [("Camera", "Fujifilm X-T5")],
            id="make-and-model",
        ),
        pytest.param({"camera_model": "X100V"}, [("Camera", "X100V")], id="model-only"),
        pytest.param({"date_taken": "not a date"}, [("Taken", "not a date")], id="odd-date-as-is"),
        pytest.param(
            {"gps": {"latitude": 48.8566667, "longitude": -2.2944444}},
            [("Location", "48.856667, -2.294444")],
            id="gps",
        ),
        pytest.param({"gps": {"latitude": 1.0}}, [], id="gps-incomplete"),
    ],
)
def test_exif_rows(exif: dict[str, Any], rows: list[tuple[str, str]]) -> None:
    assert imageview.exif_rows(exif) == rows


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        pytest.param("http://127.0.0.1:8080", "http://127.0.0.1:8080", id="bind"),
        pytest.param("https://CDN.example.com/images/", "https://cdn.example.com", id="path"),
    ],
)
def test_csp_allows_images_from_the_public_origin(base_url: str, origin: str) -> None:
    policy = content_security_policy(base_url)
    assert f"img-src 'self' {origin} data: blob:;" in policy
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy


@pytest.mark.parametrize(
    ("changes", "src_start", "colour"),
    [
        pytest.param(
            {"thumbhash": "G+cJFZSCh4eAh4h4d3d4d4gQN/h4", "dominant_color": "#148ca0"},
            "data:image/png;base64,",
            "#148ca0",
            id="thumbhash",
        ),
        pytest.param(
            {"thumbhash": "XteFDQookoewh3l4iH0BKvlncHdwd4d4hw==", "dominant_color": "#ff0000"},
            "data:image/png;base64,",
            None,
            id="thumbhash-with-alpha-no-box",
        ),
        pytest.param({}, f"{BASE}/{IMAGE_ID}_t", None, id="not-backfilled"),
    ],
)
def test_the_placeholder_is_the_thumbhash_or_the_blurred_link(
    changes: dict[str, str], src_start: str, colour: str | None
) -> None:
    image = record(**changes)
    placeholder = imageview.page_placeholder(links(image), image)
    assert placeholder.src.startswith(src_start)
    assert placeholder.colour == colour
