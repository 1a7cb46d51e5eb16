"""Locust traffic for pixgate: page views, uploads, and both mixed.

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8080 PageViewUser UploaderUser

`make loadtest` runs it headless and bounded (loadtest/loadrun.py). The page-view user
needs PIXGATE_KEY/PIXGATE_SALT (to sign the occasional new variant) and a set of uploaded
images: at start, PIXGATE_LOAD_IMAGES images (default 12) are uploaded through the API.
PIXGATE_LOAD_PHOTO names the ~5 MB JPEG the uploader user sends (made by loadrun.py).
"""

from __future__ import annotations

import os
import random
import secrets
import threading
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task
from pixgate_signing import UrlBuilder

# What a current browser sends for images: AVIF and WebP first.
BROWSER_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
REPEAT_VIEW_SHARE = 0.95
JPEG_END = b"\xff\xd9"


class Library:
    """The images uploaded for this run, shared by every simulated user."""

    def __init__(self) -> None:
        self.image_ids: list[str] = []
        self.lock = threading.Lock()

    def add(self, image_id: str) -> None:
        with self.lock:
            self.image_ids.append(image_id)

    def pick(self) -> str | None:
        with self.lock:
            return random.choice(self.image_ids) if self.image_ids else None


LIBRARY = Library()


def _photo() -> bytes:
    path = os.environ.get("PIXGATE_LOAD_PHOTO")
    if not path:
        raise RuntimeError("PIXGATE_LOAD_PHOTO must name the JPEG the uploads send")
    return Path(path).read_bytes()


def unique_copy(photo: bytes) -> bytes:
    """The same picture with distinct bytes (a random trailer after the JPEG's end), so
    every upload is new to pixgate's deduplication."""
    return photo + secrets.token_bytes(16)


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def seed_images(environment: Any, **kwargs: Any) -> None:
    """Upload the images page views will look at (they are the 95% repeat views)."""
    import requests  # locust's own dependency; imported here so mypy need not know it

    photo = _photo()
    for _ in range(int(os.environ.get("PIXGATE_LOAD_IMAGES", "12"))):
        response = requests.post(
            f"{environment.host}/api/v1/images",
            files={"image": ("seed.jpg", unique_copy(photo), "image/jpeg")},
            timeout=60,
        )
        response.raise_for_status()
        LIBRARY.add(response.json()["image_id"])


class PageViewUser(HttpUser):
    """Opens image pages: the srcset sizes and the placeholder with a browser's Accept;
    95% are repeat views of known variants, 5% ask for a variant never seen before."""

    weight = 3
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.urls = UrlBuilder(
            self.host or "", os.environ["PIXGATE_KEY"], os.environ["PIXGATE_SALT"]
        )

    @task
    def view_page(self) -> None:
        image_id = LIBRARY.pick()
        if image_id is None:
            return
        headers = {"Accept": BROWSER_ACCEPT}
        if random.random() < REPEAT_VIEW_SHARE:
            for size in ("t", "s", "m", "l"):
                self.client.get(f"/{image_id}_{size}", headers=headers, name="/{id}_{size}")
        else:
            width = random.randint(100, 1600)
            url = self.urls.direct_url(image_id, width=width, fit="contain", quality=75)
            self.client.get(url.removeprefix(self.host or ""), headers=headers, name="new variant")


class UploaderUser(HttpUser):
    """Uploads ~5 MB photos and keeps them in the library for page views."""

    weight = 1
    wait_time = between(1.0, 3.0)

    def on_start(self) -> None:
        self.photo = _photo()

    @task
    def upload(self) -> None:
        files = {"image": ("photo.jpg", unique_copy(self.photo), "image/jpeg")}
        with self.client.post(
            "/api/v1/images", files=files, name="upload", catch_response=True
        ) as response:
            if response.status_code == 201:
                LIBRARY.add(response.json()["image_id"])
                response.success()
            else:
                response.failure(f"upload answered {response.status_code}")
