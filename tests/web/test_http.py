"""The web pages over plain HTTP: headers, hashed static files, the HTML itself, 404s."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from importlib import resources

import aiohttp
import psycopg
import pytest
import pyvips

from loadtest.harness import imagegen
from tests.web.conftest import SiteFactory, upload_image
from tests.web.harness import Site

CDN = "http://cdn.example.test"
UNKNOWN_ID = "img_" + "A" * 20


def csp(img_origin: str) -> str:
    return (
        "default-src 'self'; "
        f"img-src 'self' {img_origin} data: blob:; "
        "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    )


class Tags(HTMLParser):
    """Every start tag of a document with its attributes, in order."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **match: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(key) == value for key, value in match.items())
        ]

    def one(self, tag: str, **match: str) -> dict[str, str | None]:
        found = self.find(tag, **match)
        assert len(found) == 1, (tag, match, found)
        return found[0]


async def get_text(http: aiohttp.ClientSession, url: str) -> tuple[aiohttp.ClientResponse, str]:
    async with http.get(url) as response:
        return response, await response.text()


def assert_page_headers(response: aiohttp.ClientResponse, img_origin: str) -> None:
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Security-Policy"] == csp(img_origin)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def assert_no_inline_code(text: str) -> None:
    """What the CSP would block anyway: inline scripts, style elements and attributes."""
    tags = Tags(text)
    assert all(attrs.get("src") for attrs in tags.find("script"))
    assert tags.find("style") == []
    assert not any(
        "style" in attrs or any(k.startswith("on") for k in attrs) for _, attrs in tags.tags
    )


async def test_pages_carry_a_strict_csp_naming_the_public_url(
    make_site: SiteFactory, http: aiohttp.ClientSession
) -> None:
    site = await make_site(PIXGATE_PUBLIC_URL=CDN + "/images")
    image_id = (await upload_image(http, site, imagegen.camera_jpeg(320, 240)))["image_id"]
    for path, status in [
        ("/", 200),
        (f"/v/{image_id}", 200),
        (f"/v/{UNKNOWN_ID}", 404),
        ("/v/not-an-id", 404),
    ]:
        response, text = await get_text(http, site.base_url + path)
        assert response.status == status, path
        assert_page_headers(response, CDN)
        assert_no_inline_code(text)
    # Links on the page point at the public URL, path included.
    _, text = await get_text(http, f"{site.base_url}/v/{image_id}")
    assert Tags(text).one("input", id="link-direct")["value"] == f"{CDN}/images/{image_id}.jpg"


async def test_static_files_have_hashed_names_and_cache_for_a_year(
    site: Site, http: aiohttp.ClientSession
) -> None:
    _, text = await get_text(http, site.base_url + "/")
    tags = Tags(text)
    linked = {
        "app.css": tags.one("link", rel="stylesheet")["href"],
        "app.js": tags.one("script")["src"],
        "pixgate.svg": tags.one("link", rel="icon")["href"],
    }
    types = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}
    folder = resources.files("uploader.web").joinpath("static")
    for name, url in linked.items():
        stem, ext = name.split(".")
        assert url is not None
        found = re.fullmatch(rf"/static/{stem}\.([0-9a-f]{{12}})\.{ext}", url)
        assert found, url
        source = folder.joinpath(name).read_bytes()
        assert found[1] == hashlib.sha256(source).hexdigest()[:12]
        async with http.get(site.base_url + url) as response:
            assert response.status == 200
            assert await response.read() == source
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert response.headers["Content-Type"] == f"{types[ext]}; charset=utf-8"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    for wrong in ("/static/app.css", "/static/app.000000000000.css", "/static/nothing"):
        async with http.get(site.base_url + wrong) as response:
            assert response.status == 404, wrong


async def test_upload_page_renders_the_limits_and_the_key_field(
    make_site: SiteFactory, http: aiohttp.ClientSession
) -> None:
    default = await make_site()
    _, text = await get_text(http, default.base_url + "/")
    form = Tags(text).one("form", id="upload-form")
    assert form["data-max-bytes"] == "20971520" and form["data-api-key"] == "false"
    assert "up to 20 MB" in text
    assert Tags(text).find("input", id="api-key") == []

    keyed = await make_site(
        PIXGATE_API_KEYS="web:web-secret-0123456789", PIXGATE_MAX_UPLOAD_BYTES="1048576"
    )
    _, text = await get_text(http, keyed.base_url + "/")
    form = Tags(text).one("form", id="upload-form")
    assert form["data-max-bytes"] == "1048576" and form["data-api-key"] == "true"
    assert "up to 1 MB" in text
    assert Tags(text).one("input", id="api-key")["type"] == "password"
    assert Tags(text).one("label", **{"for": "api-key"})


async def test_image_page_escapes_the_title_and_lists_absolute_links(
    site: Site, http: aiohttp.ClientSession
) -> None:
    title = '<script>alert("x")</script> & friends'
    body = await upload_image(
        http, site, imagegen.camera_jpeg(1600, 1200), title=title, description="at <b>dusk</b>"
    )
    image_id = body["image_id"]
    response, text = await get_text(http, f"{site.base_url}/v/{image_id}")
    assert response.status == 200
    assert "<script>alert" not in text and "<b>dusk" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends" in text
    tags = Tags(text)
    base = f"{site.base_url}/{image_id}"
    photo = tags.one("img", id="photo")
    assert photo["alt"] == title
    assert photo["srcset"] == f"{base}_s 150w, {base}_m 500w, {base}_l 1200w"
    assert photo["src"] == f"{base}_m"
    assert (photo["width"], photo["height"]) == ("1600", "1200")
    # The ThumbHash as a PNG in the page, the dominant colour as an SVG rectangle's fill.
    placeholder = tags.one("img", **{"class": "placeholder"})["src"] or ""
    assert placeholder.startswith("data:image/png;base64,")
    drawn = pyvips.Image.new_from_buffer(base64.b64decode(placeholder.split(",", 1)[1]), "")
    assert (drawn.width, drawn.height) == (32, 24)  # the photo's 4:3, not the hash's 7:5
    assert tags.one("svg", **{"class": "swatch"})["viewbox"] == "0 0 1600 1200"
    assert tags.one("rect")["fill"] == body["metadata"]["dominant_color"]
    urls = body["urls"]
    for field, name in [("direct", "original"), ("small", "small"), ("large", "large")]:
        assert tags.one("input", id=f"link-{field}")["value"] == urls[name]
    assert tags.one("meta", property="og:image")["content"] == urls["large"]
    assert tags.one("article", id="image-page")["data-image-id"] == image_id


async def test_hostile_exif_and_quotes_in_attributes_come_out_escaped(
    site: Site, http: aiohttp.ClientSession
) -> None:
    hostile = "<script>alert(1)</script>"
    title = '" onerror="alert(1)'
    data = imagegen.tagged_jpeg(
        64, 48, {"exif-ifd0-Model": hostile, "exif-ifd2-LensModel": '"><img src=x>'}
    )
    image_id = (await upload_image(http, site, data, title=title))["image_id"]
    _, text = await get_text(http, f"{site.base_url}/v/{image_id}")
    assert hostile not in text and "<img src=x>" not in text
    assert_no_inline_code(text)
    assert '<th scope="row">Camera</th><td>&lt;script&gt;alert(1)&lt;/script&gt;</td>' in text
    assert '<th scope="row">Lens</th><td>&quot;&gt;&lt;img src=x&gt;</td>' in text
    assert 'alt="&quot; onerror=&quot;alert(1)"' in text
    tags = Tags(text)
    assert tags.one("img", id="photo")["alt"] == title
    assert tags.one("meta", property="og:title")["content"] == title
    assert len(tags.find("img")) == 3  # brand mark, placeholder, photo: nothing injected


async def test_unknown_images_get_an_html_404(site: Site, http: aiohttp.ClientSession) -> None:
    for path in (f"/v/{UNKNOWN_ID}", "/v/img_short", "/v/..%2Fetc"):
        response, text = await get_text(http, site.base_url + path)
        assert response.status == 404, path
        assert response.headers["Cache-Control"] == "no-store"
        assert '<h1 id="not-found-heading">Image not found</h1>' in text


@pytest.mark.parametrize(
    ("keep_gps", "shown"),
    [pytest.param("false", False, id="dropped"), pytest.param("true", True, id="kept")],
)
async def test_location_row_only_when_gps_is_kept(
    make_site: SiteFactory, http: aiohttp.ClientSession, keep_gps: str, shown: bool
) -> None:
    site = await make_site(PIXGATE_KEEP_GPS=keep_gps)
    data = imagegen.tagged_jpeg(
        64,
        48,
        {
            "exif-ifd0-Make": "Canon",
            "exif-ifd0-Model": "Canon EOS R5",
            "exif-ifd3-GPSLatitude": "48/1 51/1 2400/100",
            "exif-ifd3-GPSLatitudeRef": "N",
            "exif-ifd3-GPSLongitude": "2/1 17/1 4000/100",
            "exif-ifd3-GPSLongitudeRef": "E",
        },
    )
    image_id = (await upload_image(http, site, data))["image_id"]
    _, text = await get_text(http, f"{site.base_url}/v/{image_id}")
    assert '<th scope="row">Camera</th><td>Canon EOS R5</td>' in text
    assert ('<th scope="row">Location</th><td>48.856667, 2.294444</td>' in text) is shown
    assert ("Location" in text) is shown


async def test_proxy_role_serves_no_pages(
    make_site: SiteFactory, http: aiohttp.ClientSession
) -> None:
    site = await make_site(PIXGATE_ROLE="proxy")
    for path in ("/", f"/v/{UNKNOWN_ID}"):
        async with http.get(site.base_url + path) as response:
            assert response.status in (400, 403, 404), path
            assert response.content_type == "application/json"


async def test_rows_without_a_placeholder_keep_the_blurred_link(
    site: Site, http: aiohttp.ClientSession
) -> None:
    image_id = (await upload_image(http, site, imagegen.camera_jpeg(320, 240)))["image_id"]
    # As a row from before placeholders: both NULL.
    with psycopg.connect(site.settings.database_url, autocommit=True) as connection:
        connection.execute(
            "UPDATE images SET thumbhash = NULL, dominant_color = NULL WHERE image_id = %s",
            (image_id,),
        )
    async with http.get(f"{site.base_url}/v/{image_id}") as response:
        text = await response.text()
    assert f'<img class="placeholder" src="{site.base_url}/{image_id}_t"' in text
    assert '<svg class="swatch"' not in text
