"""The web pages in headless Chromium: upload, the image page, copy, refusals, delete."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
import pyvips
from playwright.async_api import FilePayload, Page, Request, Response, Route

from loadtest.harness import imagegen
from tests.web.conftest import ContextFactory, SiteFactory, upload_image
from tests.web.harness import Site

CAMERA = imagegen.CameraTags(make="Fujifilm", model="X-T5", iso=400)


def jpeg_file(data: bytes, name: str = "harbour.jpg") -> FilePayload:
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


async def upload_through_page(page: Page, site: Site, data: bytes) -> str:
    """Choose `data` with the file chooser on the upload page; returns the new image id."""
    async with page.expect_file_chooser() as chooser:
        await page.click("label[for=file]")
    await (await chooser.value).set_files(files=[jpeg_file(data)])
    await page.wait_for_url(re.compile(re.escape(site.base_url) + r"/v/img_[A-Za-z0-9]{20}$"))
    return page.url.rsplit("/", 1)[1]


async def cell(page: Page, row: str) -> str:
    """The value next to row heading `row` in the page's tables."""
    return await page.locator("tr", has=page.locator("th", has_text=row)).locator("td").inner_text()


async def test_upload_by_file_chooser_shows_the_image_page(
    make_site: SiteFactory, new_context: ContextFactory, http: aiohttp.ClientSession
) -> None:
    site = await make_site(PIXGATE_API_KEYS="web:web-secret-0123456789")
    page = await (await new_context()).new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    # A CSP violation or a script error shows up here.
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(site.base_url + "/")
    await page.fill("#api-key", "web-secret-0123456789")
    await page.fill("#title", "Harbour at dusk")

    image_id = await upload_through_page(page, site, imagegen.camera_jpeg(1600, 1200, CAMERA))

    async with http.get(f"{site.base_url}/api/v1/images/{image_id}/metadata") as response:
        assert (await response.json())["title"] == "Harbour at dusk"
    assert await page.locator("#image-content h1").inner_text() == "Harbour at dusk"
    photo = page.locator("#photo")
    assert await photo.get_attribute("alt") == "Harbour at dusk"
    await page.wait_for_selector("#frame.is-loaded")
    assert re.fullmatch(
        re.escape(f"{site.base_url}/{image_id}_") + "[sml]",
        await photo.evaluate("img => img.currentSrc"),
    )
    assert await photo.evaluate("img => img.naturalWidth") > 0
    # The placeholder is in the page itself (ThumbHash as a data: URL, no `_t` request) and
    # fades out once the photo is there.
    assert f"{site.base_url}/{image_id}_t" not in requested
    assert (await page.locator(".placeholder").get_attribute("src") or "").startswith(
        "data:image/png;base64,"
    )
    await page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.placeholder')).opacity === '0'"
    )
    assert await cell(page, "Camera") == "Fujifilm X-T5"
    assert await cell(page, "ISO") == "400"
    assert await cell(page, "Aperture") == "f/2.8"
    assert await cell(page, "Shutter speed") == "1/250 s"
    assert await cell(page, "Taken") == "21 Jun 2024, 19:30"
    assert await page.locator("th", has_text="Location").count() == 0
    # This browser uploaded it: it keeps the delete token and the API key, and may delete.
    stored = await page.evaluate(
        "id => [localStorage.getItem('pixgate:delete-token:' + id),"
        " localStorage.getItem('pixgate:api-key')]",
        image_id,
    )
    assert stored[0] and stored[1] == "web-secret-0123456789"
    assert await page.locator("#delete-button").is_visible()
    assert problems == []


@pytest.mark.parametrize(
    ("width", "height", "size", "pixels"),
    [
        pytest.param(390, 844, "m", 500, id="phone"),
        pytest.param(1280, 800, "l", 1200, id="desktop"),
    ],
)
async def test_browser_fetches_the_srcset_candidate_for_its_width(
    site: Site,
    new_context: ContextFactory,
    http: aiohttp.ClientSession,
    width: int,
    height: int,
    size: str,
    pixels: int,
) -> None:
    image_id = (await upload_image(http, site, imagegen.camera_jpeg(1600, 1200)))["image_id"]
    page = await (await new_context(width, height)).new_page()
    candidates: list[Response] = []

    def record(response: Response) -> None:
        if re.fullmatch(re.escape(f"{site.base_url}/{image_id}_") + "[sml]", response.url):
            candidates.append(response)

    page.on("response", record)
    await page.goto(f"{site.base_url}/v/{image_id}")
    await page.wait_for_selector("#frame.is-loaded")

    assert [response.url for response in candidates] == [f"{site.base_url}/{image_id}_{size}"]
    # Chromium's Accept asks for AVIF first, and the extensionless link honours it.
    assert candidates[0].headers["content-type"] == "image/avif"
    served = pyvips.Image.new_from_buffer(await candidates[0].body(), "")
    assert (served.width, served.height) == (pixels, pixels * 3 // 4)
    # Another browser never held this image's delete token: no delete button.
    assert await page.locator("#delete-button").is_hidden()


async def test_copy_buttons_put_the_links_on_the_clipboard(
    site: Site, new_context: ContextFactory, http: aiohttp.ClientSession
) -> None:
    image_id = (await upload_image(http, site, imagegen.camera_jpeg(1600, 1200)))["image_id"]
    context = await new_context(permissions=["clipboard-read", "clipboard-write"])
    page = await context.new_page()
    await page.goto(f"{site.base_url}/v/{image_id}")
    base = f"{site.base_url}/{image_id}"
    expected = {
        "link-direct": f"{base}.jpg",
        "link-small": f"{base}_s.jpg",
        "link-medium": f"{base}_m.jpg",
        "link-large": f"{base}_l.jpg",
        "embed-markdown": f"![Uploaded image]({base}_l.jpg)",
        "embed-bbcode": f"[img]{base}_l.jpg[/img]",
    }
    for field, text in expected.items():
        await page.click(f"button[data-copy={field}]")
        assert await page.evaluate("navigator.clipboard.readText()") == text, field
    copied = page.locator("button[data-copy=embed-bbcode]")
    assert (await copied.text_content() or "").startswith("Copied")

    await page.click("button[data-copy=embed-html]")
    snippet = await page.evaluate("navigator.clipboard.readText()")
    assert f'srcset="{base}_s 150w, {base}_m 500w, {base}_l 1200w"' in snippet
    # The snippet works in another page: the image loads there, at a srcset size.
    other = await context.new_page()
    await other.set_content(f"<!doctype html><body>{snippet}</body>")
    await other.wait_for_function("() => document.images[0].complete")
    assert await other.evaluate("document.images[0].naturalWidth") > 0
    assert re.fullmatch(
        re.escape(f"{base}_") + "[sml]", await other.evaluate("document.images[0].currentSrc")
    )


async def test_refused_files_show_why(make_site: SiteFactory, new_context: ContextFactory) -> None:
    site = await make_site(PIXGATE_MAX_UPLOAD_BYTES="100000")
    page = await (await new_context()).new_page()
    posted: list[Request] = []
    page.on("request", lambda request: posted.append(request) if request.method == "POST" else None)
    await page.goto(site.base_url + "/")
    error = page.locator("#error")

    # Too large: refused in the browser, before sending anything.
    await page.set_input_files("#file", files=[jpeg_file(b"\xff\xd8" + bytes(150_000))])
    assert await error.inner_text() == '"harbour.jpg" is 146 KB; the largest upload is 98 KB.'
    # Not an image by its type, dropped on the drop zone: refused in the browser too.
    dropped = await page.evaluate_handle(
        """() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(["just words"], "notes.txt", {type: "text/plain"}));
            return transfer;
        }"""
    )
    await page.dispatch_event("#dropzone", "drop", {"dataTransfer": dropped})
    assert (await error.inner_text()).startswith(
        '"notes.txt" is not an image pixgate accepts (text/plain).'
    )
    assert posted == []

    # Text named .jpg passes the browser's check; the server looks at the bytes: 415.
    async with page.expect_response(f"{site.base_url}/api/v1/images") as answer:
        await page.set_input_files(
            "#file", files=[jpeg_file(imagegen.text_named_as_image(), "photo.jpg")]
        )
    assert (await answer.value).status == 415
    await page.wait_for_function("() => !document.querySelector('#error').hidden")
    message = await error.inner_text()
    assert message.startswith("Not an accepted image: "), message
    assert "JPEG" in message
    assert page.url == site.base_url + "/"


async def test_delete_removes_the_image_and_its_links(
    site: Site, new_context: ContextFactory, http: aiohttp.ClientSession
) -> None:
    page = await (await new_context()).new_page()
    await page.goto(site.base_url + "/")
    image_id = await upload_through_page(page, site, imagegen.camera_jpeg(800, 600))
    links = [
        f"/{image_id}{suffix}" for suffix in (".jpg", "", "_s", "_m.jpg", "_l", "_t", "_t.webp")
    ]
    for link in links:
        async with http.get(site.base_url + link) as response:
            assert response.status == 200, link

    # Dismissing the confirmation keeps the image.
    page.once("dialog", lambda dialog: dialog.dismiss())
    await page.click("#delete-button")
    async with http.get(f"{site.base_url}/api/v1/images/{image_id}/metadata") as response:
        assert response.status == 200

    page.once("dialog", lambda dialog: dialog.accept())
    async with page.expect_response(f"{site.base_url}/api/v1/images/{image_id}") as answer:
        await page.click("#delete-button")
    assert (await answer.value).status == 204
    await page.wait_for_selector("#deleted-notice")
    assert await page.locator("#deleted-notice h1").inner_text() == "Image deleted"
    assert await page.locator("#image-content").is_hidden()
    assert (
        await page.evaluate("id => localStorage.getItem('pixgate:delete-token:' + id)", image_id)
        is None
    )

    async with http.get(f"{site.base_url}/api/v1/images/{image_id}/metadata") as response:
        assert response.status == 404
    for link in links:
        async with http.get(site.base_url + link) as response:
            assert response.status == 404, link
    reloaded = await page.goto(f"{site.base_url}/v/{image_id}")
    assert reloaded is not None and reloaded.status == 404
    assert await page.locator("h1").inner_text() == "Image not found"


async def test_placeholder_colour_and_thumbhash_are_painted_before_the_photo(
    site: Site, new_context: ContextFactory, http: aiohttp.ClientSession
) -> None:
    # Two thirds red on the left, a third blue on the right.
    image = imagegen.halves(1200, 800).insert(imagegen.solid(200, 800, (255, 0, 0)), 600, 0)
    body = await upload_image(http, site, imagegen.png(image))
    image_id = body["image_id"]
    assert body["metadata"]["dominant_color"] == "#ff0000"
    page = await (await new_context(800, 1000)).new_page()
    # Every byte of the image's links is held back until the checks are done.
    release = asyncio.Event()
    held: list[str] = []

    async def hold(route: Route) -> None:
        held.append(route.request.url)
        await release.wait()
        await route.continue_()

    await page.route(
        re.compile(re.escape(f"{site.base_url}/{image_id}") + r"(_[a-z])?(\.\w+)?$"), hold
    )
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await page.goto(f"{site.base_url}/v/{image_id}", wait_until="domcontentloaded")
    await page.wait_for_function(
        "() => { const p = document.querySelector('.placeholder');"
        " return p.complete && p.naturalWidth > 0; }"
    )
    assert held, "the photo was requested"
    assert await page.evaluate("document.querySelector('#photo').naturalWidth") == 0
    assert not await page.locator("#frame.is-loaded").count()
    # The dominant colour, from the HTML alone.
    fill = await page.evaluate("getComputedStyle(document.querySelector('.swatch rect')).fill")
    assert fill == "rgb(255, 0, 0)"
    # What the visitor sees: red on the left, blue on the right (the ThumbHash), already.
    shot = pyvips.Image.new_from_buffer(await page.locator(".placeholder").screenshot(), "")
    assert shot.width / shot.height == pytest.approx(1.5, abs=0.02)

    def colour_at(fx: float) -> list[float]:
        return list(shot.getpoint(int(shot.width * fx), shot.height // 2))[:3]

    left, right = colour_at(0.2), colour_at(0.92)
    assert left[0] > 150 and left[2] < 100, left
    assert right[2] > 150 and right[0] < 110, right

    release.set()
    await page.wait_for_selector("#frame.is-loaded")
    assert await page.evaluate("document.querySelector('#photo').naturalWidth") > 0
    await page.wait_for_function(
        "() => getComputedStyle(document.querySelector('.swatch')).opacity === '0'"
    )
    assert problems == []


# Runs in the page: decodes what the <img> shows with WebCodecs' ImageDecoder, as Chromium
# decodes it for display: the type, the frames and each frame's duration (microseconds).
_DECODE_SHOWN_IMAGE = """async () => {
    const img = document.querySelector('#photo');
    // fetch() sends */*; ask as the <img> did (Chromium's Accept for images).
    const accept = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
    const response = await fetch(img.currentSrc, {headers: {Accept: accept}});
    const type = response.headers.get('content-type');
    const decoder = new ImageDecoder({data: await response.arrayBuffer(), type});
    await decoder.tracks.ready;
    const track = decoder.tracks.selectedTrack;
    const durations = [];
    for (let index = 0; index < track.frameCount; index++) {
        const {image} = await decoder.decode({frameIndex: index});
        durations.push(image.duration);
        image.close();
    }
    return {type, animated: track.animated, frames: track.frameCount,
            repetitions: track.repetitionCount, durations};
}"""


async def test_animated_image_page_shows_every_frame(
    site: Site, new_context: ContextFactory, http: aiohttp.ClientSession
) -> None:
    frames = [imagegen.solid(120, 80, colour) for colour in imagegen.FRAME_COLOURS] * 5
    roll = imagegen.animation(frames, delay_ms=120)
    image_id = (await upload_image(http, site, bytes(roll.gifsave_buffer())))["image_id"]
    page = await (await new_context()).new_page()
    served: list[Response] = []
    link = re.escape(f"{site.base_url}/{image_id}_") + "[sml]"
    page.on("response", lambda r: served.append(r) if re.fullmatch(link, r.url) else None)
    await page.goto(f"{site.base_url}/v/{image_id}")
    await page.wait_for_selector("#frame.is-loaded")
    assert [response.headers["content-type"] for response in served] == ["image/webp"]

    shown = await page.evaluate(_DECODE_SHOWN_IMAGE)
    # Chromium asks for AVIF first; an animation is negotiated to animated WebP.
    assert shown["type"] == "image/webp"
    assert shown["animated"] is True
    assert shown["frames"] == 30
    assert shown["repetitions"] == float("inf")  # loop 0: forever
    assert shown["durations"] == [120_000] * 30

    # And the page itself animates: screenshots of the <img> a moment apart differ.
    photo = page.locator("#photo")
    seen = {await photo.screenshot()}
    for _ in range(10):
        await page.wait_for_timeout(100)
        seen.add(await photo.screenshot())
    assert len(seen) > 1
