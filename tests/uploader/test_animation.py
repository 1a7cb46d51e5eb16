"""Animated uploads, end to end over PostgreSQL and S3: kept whole or refused, never cut.

Every output is decoded frame by frame: the count, each frame's delay, the loop count, the
canvas and the colour of each frame.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import boto3
import pytest
import pyvips
from aiohttp.test_utils import TestClient
from pixgate_signing import UrlBuilder

from loadtest.harness import imagegen
from loadtest.harness.s3server import MotoServer
from tests.uploader.conftest import KEY, SALT, ClientFactory
from tests.uploader.test_api import local, objects, rows

Client = TestClient[Any, Any]

FRAMES = 500
# Delays a GIF can hold (centiseconds), all different in a row, and a loop count that is not 0.
DELAYS = [(20, 30, 40, 50, 70, 110, 130)[i % 7] for i in range(FRAMES)]
LOOP = 3
CHROME_ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"


def long_gif(count: int = FRAMES, width: int = 48, height: int = 32) -> bytes:
    """`count` frames, consecutive ones of different colours (so none are merged)."""
    frames = [
        imagegen.solid(width, height, imagegen.FRAME_COLOURS[i % len(imagegen.FRAME_COLOURS)])
        for i in range(count)
    ]
    roll = imagegen.animation(frames)
    roll.set_type(pyvips.GValue.array_int_type, "delay", DELAYS[:count])
    roll.set_type(pyvips.GValue.gint_type, "loop", LOOP)
    return bytes(roll.gifsave_buffer())


def frames_of(data: bytes) -> tuple[list[Any], list[int], int, tuple[int, int]]:
    """Each frame, its delay, the loop count and the canvas of an encoded image."""
    animatable = data.startswith(b"GIF") or data[8:12] == b"WEBP"
    image = pyvips.Image.new_from_buffer(data, "n=-1" if animatable else "")
    page_height = image.get("page-height") if image.get_typeof("page-height") else image.height
    frames = [
        image.crop(0, top, image.width, page_height) for top in range(0, image.height, page_height)
    ]
    delays = list(image.get("delay"))[: len(frames)] if image.get_typeof("delay") else []
    loop = image.get("loop") if image.get_typeof("loop") else 0
    return frames, delays, loop, (image.width, page_height)


def assert_whole(data: bytes, canvas: tuple[int, int]) -> None:
    frames, delays, loop, size = frames_of(data)
    assert len(frames) == FRAMES
    assert delays == DELAYS
    assert loop == LOOP
    assert size == canvas
    for index in (0, 1, 2, 250, 499):
        colour = imagegen.FRAME_COLOURS[index % len(imagegen.FRAME_COLOURS)]
        pixel = frames[index].getpoint(size[0] // 2, size[1] // 2)[:3]
        assert all(abs(got - want) <= 8 for got, want in zip(pixel, colour, strict=True))


async def get(client: Client, path: str, accept: str = "") -> tuple[Any, bytes]:
    response = await client.get(path, headers={"Accept": accept} if accept else {})
    body = await response.read()
    assert response.status == 200, body[:300]
    assert "X-Pixgate-Frames-Dropped" not in response.headers  # an upload is never cut
    return response, body


async def post(client: Client, data: bytes) -> tuple[Any, dict[str, Any]]:
    form = aiohttp.FormData()
    form.add_field("image", data, filename="animation.gif", content_type="image/gif")
    response = await client.post("/api/v1/images", data=form)
    return response, await response.json()


async def test_500_frames_upload_and_every_link_serves_them_all(api: Client) -> None:
    response, body = await post(api, long_gif())
    assert response.status == 201, body
    image_id = body["image_id"]
    summary = {"frames": FRAMES, "duration_ms": sum(DELAYS), "loop": LOOP}
    assert body["metadata"] == body["metadata"] | summary
    metadata = await (await api.get(f"/api/v1/images/{image_id}/metadata")).json()
    assert metadata == metadata | summary | {"width": 48, "height": 32, "format": "gif"}

    # The links as returned (GIF, the source's kind), each with every frame.
    for name in ("original", "small", "medium", "large"):
        served, data = await get(api, local(body["urls"][name]))
        assert served.content_type == "image/gif"
        assert_whole(data, (48, 32))

    # Extensionless: negotiated to animated WebP for a browser, GIF for a client without it.
    for path in (f"/{image_id}", f"/{image_id}_m"):
        served, data = await get(api, path, CHROME_ACCEPT)
        assert (served.content_type, served.headers["Vary"]) == ("image/webp", "Accept")
        assert_whole(data, (48, 32))
    served, data = await get(api, f"/{image_id}_s", "image/png,*/*")
    assert (served.content_type, served.headers["Vary"]) == ("image/gif", "Accept")
    assert_whole(data, (48, 32))

    # A signed URL to the original is an upload too: whole, resized frame by frame.
    urls = UrlBuilder("", bytes.fromhex(KEY), bytes.fromhex(SALT))
    _, data = await get(api, urls.path(f"originals/{image_id}", width=24, format="webp"))
    assert_whole(data, (24, 16))


async def test_stills_of_an_animation(api: Client) -> None:
    response, body = await post(api, long_gif(12))
    assert response.status == 201, body
    image_id = body["image_id"]
    # The placeholder: one frame, negotiated like any still (AVIF for a browser).
    served, data = await get(api, f"/{image_id}_t", CHROME_ACCEPT)
    assert served.content_type == "image/avif"
    frames, _, _, size = frames_of(data)
    assert (len(frames), size) == (1, (32, 21))

    urls = UrlBuilder("", bytes.fromhex(KEY), bytes.fromhex(SALT))
    for page in (0, 7, 11, 99):  # past the end: the last frame
        path = urls.path(f"originals/{image_id}", format="png", options=[f"pg:{page}"])
        _, data = await get(api, path)
        frames, _, _, size = frames_of(data)
        assert (len(frames), size) == (1, (48, 32))
        colour = imagegen.FRAME_COLOURS[min(page, 11) % len(imagegen.FRAME_COLOURS)]
        assert frames[0].getpoint(24, 16)[:3] == list(colour)


LIMITS = {
    "frames": ({"PIXGATE_MAX_UPLOAD_FRAMES": "11"}, "too_many_frames", "PIXGATE_MAX_UPLOAD_FRAMES"),
    "pixels": (
        {"PIXGATE_MAX_ANIMATION_PIXELS": str(12 * 48 * 32 - 1)},
        "animation_too_large",
        "PIXGATE_MAX_ANIMATION_PIXELS",
    ),
}


@pytest.mark.parametrize(("env", "code", "limit"), LIMITS.values(), ids=LIMITS.keys())
async def test_over_a_limit_is_refused_naming_it(
    make_uploader: ClientFactory,
    pg_url: str,
    s3_server: MotoServer,
    s3_bucket: str,
    env: dict[str, str],
    code: str,
    limit: str,
) -> None:
    client = await make_uploader(**env)
    response, body = await post(client, long_gif(12))
    assert response.status == 422
    assert body["error"]["code"] == code
    assert limit in body["error"]["message"] and "12 frames" in body["error"]["message"]
    assert rows(pg_url) == [] and objects(s3_server, s3_bucket) == []
    within, _ = await post(client, long_gif(11))
    assert within.status == 201


async def test_the_frame_cap_of_other_sources_is_announced(
    make_uploader: ClientFactory, s3_server: MotoServer, s3_bucket: str
) -> None:
    client = await make_uploader(PIXGATE_MAX_ANIMATION_FRAMES="3")
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    s3.put_object(Bucket=s3_bucket, Key="media/other/long.gif", Body=long_gif(5))
    s3.put_object(Bucket=s3_bucket, Key="media/other/short.gif", Body=long_gif(3))
    urls = UrlBuilder("", bytes.fromhex(KEY), bytes.fromhex(SALT))

    response = await client.get(urls.path("other/long.gif", format="webp"))
    assert response.status == 200
    assert response.headers["X-Pixgate-Frames-Dropped"] == "2"
    frames, delays, loop, _ = frames_of(await response.read())
    assert (len(frames), delays, loop) == (3, DELAYS[:3], LOOP)

    for path in (
        urls.path("other/short.gif", format="webp"),  # all its frames
        urls.path("other/long.gif", format="webp", options=["pg:4"]),  # a still by choice
        urls.path("other/long.gif", format="jpeg"),  # a still format
    ):
        response = await client.get(path)
        assert response.status == 200
        assert "X-Pixgate-Frames-Dropped" not in response.headers
