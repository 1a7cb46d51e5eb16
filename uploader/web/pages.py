"""The web pages: `GET /` (upload), `GET /v/{image_id}` (one image), `GET /static/{name}`.

Server-rendered HTML under a strict Content-Security-Policy: no inline script or style,
scripts and styles from our own origin only, images also from PIXGATE_PUBLIC_URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from proxy.errors import NotFound
from proxy.ids import is_image_id
from proxy.keys import SETTINGS
from uploader.keys import API_KEYS, UPLOADS
from uploader.models import ImageRecord
from uploader.web import imageview
from uploader.web.imageview import PageLinks
from uploader.web.static import StaticFiles
from uploader.web.templates import EMPTY, Html, Templates

ACCEPT = "image/jpeg,image/png,image/gif,image/webp,image/avif,image/heic,image/heif"
ACCEPTED_NAMES = "JPEG, PNG, GIF, WebP or AVIF"
STATIC_MAX_AGE = 31536000
SIZE_LABELS = {"small": "Small", "medium": "Medium", "large": "Large"}


@dataclass(frozen=True, slots=True)
class WebPages:
    templates: Templates
    static: StaticFiles
    csp: str  # Content-Security-Policy of every page


WEB = web.AppKey("web_pages", WebPages)


def content_security_policy(base_url: str) -> str:
    """Our own origin for everything; images may also come from the public base URL (a CDN)."""
    parts = urlsplit(base_url)
    host = parts.netloc.rpartition("@")[2]  # never user:password@ in a header
    public_origin = f"{parts.scheme}://{host}".lower()
    return "; ".join(
        (
            "default-src 'self'",
            f"img-src 'self' {public_origin} data: blob:",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        )
    )


def _page(
    pages: WebPages,
    *,
    title: str,
    content: Html,
    page_class: str,
    head: Html = EMPTY,
    status: int = 200,
) -> web.Response:
    static = pages.static
    body = pages.templates.render(
        "layout",
        title=title,
        head=head,
        content=content,
        page_class=page_class,
        css_url=static.url("app.css"),
        js_url=static.url("app.js"),
        icon_url=static.url("pixgate.svg"),
    )
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": pages.csp,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store" if status >= 400 else "no-cache",
        },
    )


def not_found_page(pages: WebPages) -> web.Response:
    """The HTML 404 of the pages (the API's errors stay JSON, from the error middleware)."""
    content = pages.templates.render("not-found")
    return _page(
        pages,
        title="Image not found · pixgate",
        content=content,
        page_class="page-missing",
        status=404,
    )


async def upload_page(request: web.Request) -> web.StreamResponse:
    """GET /: choose, drop or paste an image; it is uploaded with progress shown."""
    pages, settings = request.app[WEB], request.app[SETTINGS]
    templates = pages.templates
    keys_required = request.app[API_KEYS].required
    content = templates.render(
        "upload",
        max_bytes=settings.max_upload_bytes,
        max_size=imageview.human_bytes(settings.max_upload_bytes),
        api_key_required="true" if keys_required else "false",
        api_key_field=templates.render("api-key-field") if keys_required else EMPTY,
        accept=ACCEPT,
        types_hint=ACCEPTED_NAMES,
        upload_icon_url=pages.static.url("upload.svg"),
    )
    return _page(
        pages, title="Upload an image · pixgate", content=content, page_class="page-upload"
    )


async def image_page(request: web.Request) -> web.StreamResponse:
    """GET /v/{image_id}: the image, its links and embed codes, details, EXIF, delete."""
    pages = request.app[WEB]
    image_id = request.match_info["image_id"]
    if not is_image_id(image_id):
        return not_found_page(pages)
    try:
        record = await request.app[UPLOADS].metadata(image_id)
    except NotFound:
        return not_found_page(pages)
    links = imageview.page_links(request.app[SETTINGS].url_builder(), record)
    templates = pages.templates
    heading = record.title or "Untitled image"
    head = templates.render("image-head", title=heading, image_url=imageview.large_link(links))
    return _page(
        pages,
        title=f"{heading} · pixgate",
        head=head,
        content=_image_content(templates, links, record, heading),
        page_class="page-image",
    )


def _image_content(
    templates: Templates, links: PageLinks, record: ImageRecord, heading: str
) -> Html:
    link_fields = [
        {"field_id": "link-direct", "label": "Direct link", "value": links.original},
        *(
            {
                "field_id": f"link-{size.name}",
                "label": f"{SIZE_LABELS[size.name]}, {size.width} px wide",
                "value": size.url,
            }
            for size in links.sizes
        ),
    ]
    embeds = [
        ("embed-html", "HTML", imageview.embed_html(links, record), 5),
        ("embed-markdown", "Markdown", imageview.embed_markdown(links, record), 2),
        ("embed-bbcode", "BBCode", imageview.embed_bbcode(links), 2),
    ]
    exif = imageview.exif_rows(record.exif)
    camera = (
        _table(templates, exif)
        if exif
        else templates.render("paragraph", class_name="muted", text="No camera data in this image.")
    )
    description = (
        templates.render("paragraph", class_name="description", text=record.description)
        if record.description
        else EMPTY
    )
    return templates.render(
        "image",
        image_id=record.image_id,
        placeholder_url=links.placeholder,
        photo_url=links.photo,
        srcset=links.srcset,
        sizes=imageview.PHOTO_SIZES,
        width=record.width,
        height=record.height,
        alt=imageview.alt_text(record),
        heading=heading,
        description=description,
        summary=imageview.summary(record),
        links=templates.join("copy-field", link_fields),
        embeds=templates.join(
            "copy-area",
            [
                {"field_id": field_id, "label": label, "value": value, "rows": rows}
                for field_id, label, value, rows in embeds
            ],
        ),
        details=_table(templates, imageview.detail_rows(record)),
        camera=camera,
    )


def _table(templates: Templates, rows: list[tuple[str, str]]) -> Html:
    body = templates.join("detail-row", [{"name": name, "value": value} for name, value in rows])
    return templates.render("table", rows=body)


async def static_file(request: web.Request) -> web.StreamResponse:
    """GET /static/{name}.{hash}.{ext}: immutable, cached for a year."""
    found = request.app[WEB].static.get(request.match_info["name"])
    if found is None:
        raise NotFound("no such static file")
    return web.Response(
        body=found.body,
        content_type=found.content_type,
        charset="utf-8",
        headers={
            "Cache-Control": f"public, max-age={STATIC_MAX_AGE}, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )
