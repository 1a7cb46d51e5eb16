"""Screenshots of the web pages for the README: ``python -m tests.web.screenshots [DIR]``.

Runs pixgate on a loopback port with SQLite and local storage in a temporary folder (no
PostgreSQL or S3 needed), uploads a generated photo through the upload page in headless
Chromium, and saves the upload and image pages at desktop and phone width into DIR
(default ``docs/``). Links name a made-up CDN, as in production; the browser's requests to it
are answered by the local server.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.async_api import Browser, FilePayload, Page, Route

from loadtest.harness import imagegen
from tests.web.harness import Site, chromium, serve

PUBLIC_URL = "https://img.example.com"
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
TITLE = "Evening over the hills"
CAMERA = imagegen.CameraTags(
    make="Fujifilm", model="X-T5", iso=200, f_number=(56, 10), exposure_time=(1, 500)
)
EXTRA_EXIF = {"exif-ifd2-LensModel": "XF16-55mmF2.8 R LM WR", "exif-ifd2-FocalLength": "35/1"}


def photo() -> bytes:
    """The demo landscape with camera, lens and focal length in its EXIF."""
    image = imagegen.with_exif_fields(
        imagegen.with_metadata(imagegen.landscape(2400, 1600), camera=CAMERA), EXTRA_EXIF
    )
    return bytes(image.jpegsave_buffer(Q=85))


async def upload(page: Page, site: Site, data: bytes) -> str:
    """Upload `data` through the page; returns the image page's URL."""
    await page.goto(site.base_url + "/")
    await page.fill("#title", TITLE)
    hills: FilePayload = {"name": "hills.jpg", "mimeType": "image/jpeg", "buffer": data}
    await page.set_input_files("#file", files=[hills])
    await page.wait_for_url(f"{site.base_url}/v/img_*")
    return page.url


async def shoot(browser: Browser, site: Site, folder: Path) -> list[Path]:
    saved: list[Path] = []
    data = photo()
    for name, (width, height) in VIEWPORTS.items():
        context = await browser.new_context(
            viewport={"width": width, "height": height}, device_scale_factor=1
        )

        async def from_local_server(route: Route) -> None:
            local = site.base_url + route.request.url.removeprefix(PUBLIC_URL)
            await route.fulfill(response=await route.fetch(url=local))

        await context.route(PUBLIC_URL + "/**", from_local_server)
        page = await context.new_page()
        await page.goto(site.base_url + "/")
        saved.append(folder / f"upload-{name}.png")
        await page.screenshot(path=saved[-1])
        await upload(page, site, data)
        await page.wait_for_selector("#frame.is-loaded")
        await page.wait_for_timeout(600)  # the placeholder's fade-out
        saved.append(folder / f"image-{name}.png")
        await page.screenshot(path=saved[-1], full_page=True)
        await context.close()
    return saved


async def take(folder: Path, scratch: Path) -> None:
    env = {
        "PIXGATE_PUBLIC_URL": PUBLIC_URL,
        "PIXGATE_STORAGE_URL": f"file://{scratch}/storage",
        "PIXGATE_DATABASE_URL": f"sqlite:///{scratch}/pixgate.db",
    }
    async with serve(env) as site, chromium() as browser:
        for path in await shoot(browser, site, folder):
            print(f"wrote {path}")


def main(argv: list[str]) -> None:
    folder = Path(argv[0] if argv else "docs")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, "storage").mkdir()
        asyncio.run(take(folder, Path(scratch)))


if __name__ == "__main__":
    main(sys.argv[1:])
