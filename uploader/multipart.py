"""Reading an upload form while it streams in, never holding more than the limit."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from proxy.capped import read_capped
from proxy.errors import BadRequest, TooLarge, UnsupportedMedia

CHUNK_BYTES = 256 * 1024
MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 5000
# Multipart framing and the small text fields around the image.
_FORM_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class UploadForm:
    image: bytes
    title: str
    description: str


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"upload is larger than {limit} bytes", code="upload_too_large")


async def read_upload_form(request: web.Request, max_image_bytes: int) -> UploadForm:
    """Fields `image` (required), `title`, `description` of a multipart/form-data body.

    TooLarge is raised as soon as the image crosses `max_image_bytes`, before the rest of
    the body is read; a declared Content-Length over the limit is refused unread."""
    if request.content_type != "multipart/form-data":
        raise UnsupportedMedia(
            "send the image as multipart/form-data with a field named 'image'",
            code="unsupported_request",
        )
    declared = request.content_length
    if declared is not None and declared > max_image_bytes + _FORM_OVERHEAD_BYTES:
        raise _too_large(max_image_bytes)
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError):
        raise BadRequest("malformed multipart body", code="invalid_form") from None
    image: bytes | None = None
    texts = {"title": "", "description": ""}
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise BadRequest("nested multipart is not accepted", code="invalid_form")
            if part.name == "image":
                if image is not None:
                    raise BadRequest("one 'image' field per upload", code="invalid_form")
                image = await _read_part(part, max_image_bytes)
            elif part.name in texts:
                texts[part.name] = await _read_text(part, part.name)
            else:
                await part.release()
    except ValueError as error:  # aiohttp's own framing errors
        raise BadRequest(f"malformed multipart body: {error}", code="invalid_form") from None
    if not image:
        raise BadRequest("the form has no 'image' field (or it is empty)", code="missing_image")
    return UploadForm(image, texts["title"], texts["description"])


async def _read_part(part: BodyPartReader, limit: int) -> bytes:
    return await read_capped(lambda: part.read_chunk(CHUNK_BYTES), limit, _too_large)


async def _read_text(part: BodyPartReader, name: str) -> str:
    limit = MAX_TITLE_CHARS if name == "title" else MAX_DESCRIPTION_CHARS
    raw = await _read_part(part, limit * 4)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"field {name!r} is not UTF-8 text", code="invalid_form") from None
    if len(text) > limit:
        raise BadRequest(f"field {name!r} is over {limit} characters", code="invalid_form")
    # Control characters have no place in a title; newlines and tabs do in a description.
    return "".join(c for c in text if c.isprintable() or c in "\n\t").strip()
