"""Typed keys for what the aiohttp application shares between handlers.

Light on purpose: a handler that needs the settings must not import the render pipeline and
pyvips, so the image service is named for the type checker only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from config import Settings
from proxy.drain import InFlight
from proxy.metrics import Metrics
from proxy.pool import TransformPool
from proxy.source_cache import SourceReader
from proxy.storage.base import Storage

if TYPE_CHECKING:
    from proxy.service import ImageService

# A readiness check raises a PixgateError when its dependency does not answer.
ReadinessCheck = Callable[[], Awaitable[None]]

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STORAGES = web.AppKey("storages", Mapping[str, Storage])
POOL = web.AppKey("pool", TransformPool)
READER = web.AppKey("reader", SourceReader)
IMAGES: web.AppKey[ImageService] = web.AppKey("images")
READINESS = web.AppKey("readiness", list[ReadinessCheck])
IN_FLIGHT = web.AppKey("in_flight", InFlight)
