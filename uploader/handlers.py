"""Upload API handlers: thin adapters between aiohttp and UploadService."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from proxy.keys import SETTINGS
from uploader.auth import bearer_token, is_admin
from uploader.keys import API_KEYS, RATE_LIMITER, UPLOADS
from uploader.links import image_links, image_srcset
from uploader.models import ImageRecord
from uploader.multipart import read_upload_form
from uploader.placeholder import aspect_text

_NO_STORE = {"Cache-Control": "no-store"}


async def upload(request: web.Request) -> web.StreamResponse:
    """POST /api/v1/images: multipart field `image`, optional `title` and `description`."""
    settings = request.app[SETTINGS]
    owner = request.app[API_KEYS].owner(bearer_token(request.headers.get("Authorization")))
    request.app[RATE_LIMITER].check(owner or request.remote or "unknown")
    form = await read_upload_form(request, settings.max_upload_bytes)
    service = request.app[UPLOADS]
    result = await service.upload(
        form.image, owner=owner, title=form.title, description=form.description
    )
    record = result.record
    urls = settings.url_builder()
    body = {
        "image_id": record.image_id,
        "urls": image_links(urls, record),
        "srcset": image_srcset(urls, record),
        "processing_status": record.processing_status,
        "metadata": _summary(record),
        "delete_token": service.delete_token(record.image_id),
        "duplicate": not result.created,
    }
    location = f"/api/v1/images/{record.image_id}/metadata"
    return web.json_response(
        body,
        status=201 if result.created else 200,
        headers={**_NO_STORE, "Location": location},
    )


async def metadata(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/images/{image_id}/metadata."""
    service = request.app[UPLOADS]
    record = await service.metadata(request.match_info["image_id"])
    views = await service.views(record.image_id)
    urls = request.app[SETTINGS].url_builder()
    body = {
        "image_id": record.image_id,
        "title": record.title,
        "description": record.description,
        **_summary(record),
        "exif": record.exif,
        "uploaded_at": record.uploaded_at.isoformat() if record.uploaded_at else None,
        "views": views,
        "urls": image_links(urls, record),
    }
    return web.json_response(body, headers=_NO_STORE)


async def delete(request: web.Request) -> web.StreamResponse:
    """DELETE /api/v1/images/{image_id} with `X-Delete-Token` (or `?delete_token=`), or
    the admin key as a bearer token."""
    settings = request.app[SETTINGS]
    token = request.headers.get("X-Delete-Token") or request.query.get("delete_token")
    admin = is_admin(settings.admin_key, bearer_token(request.headers.get("Authorization")))
    await request.app[UPLOADS].delete(request.match_info["image_id"], token=token, admin=admin)
    return web.Response(status=204, headers=_NO_STORE)


def _summary(record: ImageRecord) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "width": record.width,
        "height": record.height,
        "format": record.format,
        "size_bytes": record.size_bytes,
        "aspect_ratio": round(record.width / record.height, 6),
        "aspect": aspect_text(record.width, record.height),
        "thumbhash": record.thumbhash,
        "dominant_color": record.dominant_color,
    }
    if record.frames > 1:
        summary.update(frames=record.frames, duration_ms=record.duration_ms, loop=record.loop)
    return summary
