"""The nginx edge of config/edge in front of a real pixgate: hits, negotiation, purges."""

from __future__ import annotations

import asyncio

import aiohttp

from loadtest.harness import imagegen
from tests.edge.conftest import AVIF, WEBP, Stack, get


async def test_edge_caches_negotiates_and_purges(stack: Stack) -> None:
    form = aiohttp.FormData()
    form.add_field("image", imagegen.camera_jpeg(1200, 800), filename="photo.jpg")
    async with stack.http.post(f"{stack.edge}/api/v1/images", data=form) as response:
        assert response.status == 201
        assert response.headers["X-Cache-Status"] == "BYPASS"
        upload = await response.json()
    small = upload["urls"]["small"].removesuffix(".jpg")  # extensionless: negotiated
    assert small.startswith(stack.edge)
    direct_route = "/{name}"  # how pixgate's metrics name the direct-link route

    status, cache, avif_body, content_type = await get(stack, small, AVIF)
    assert (status, cache, content_type) == (200, "MISS", "image/avif")
    origin = stack.origin_requests(direct_route)
    status, cache, again, _ = await get(stack, small, AVIF)
    assert (status, cache, again) == (200, "HIT", avif_body)
    assert stack.origin_requests(direct_route) == origin  # the hit never reached pixgate

    status, cache, webp_body, content_type = await get(stack, small, WEBP)
    assert (status, cache, content_type) == (200, "MISS", "image/webp")
    assert webp_body != avif_body
    assert (await get(stack, small, {"Accept": "image/webp,image/png"}))[1] == "HIT"

    # Concurrent misses for one new URL become one origin request.
    medium = upload["urls"]["medium"]
    before = stack.origin_requests(direct_route)
    results = await asyncio.gather(*(get(stack, medium, AVIF) for _ in range(6)))
    assert {status for status, *_ in results} == {200}
    assert stack.origin_requests(direct_route) == before + 1

    # Errors are never cached.
    missing = f"{stack.edge}/img_00000000000000000000_s.jpg"
    assert [(await get(stack, missing, AVIF))[:2] for _ in range(2)] == [(404, "MISS")] * 2

    async with stack.http.delete(
        f"{stack.edge}/api/v1/images/{upload['image_id']}",
        headers={"X-Delete-Token": upload["delete_token"]},
    ) as response:
        assert response.status == 204
    for headers in (AVIF, WEBP):
        status, cache, *_ = await get(stack, small, headers)
        assert (status, cache) == (404, "MISS")
    assert (await get(stack, medium, AVIF))[0] == 404


async def test_edge_hides_metrics(stack: Stack) -> None:
    async with stack.http.get(f"{stack.edge}/metrics") as response:
        assert response.status == 404
