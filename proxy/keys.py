"""Typed keys for what the aiohttp application shares between handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from config import Settings
from proxy.drain import InFlight
from proxy.metrics import Metrics
from proxy.pool import TransformPool
from proxy.service import ImageService
from proxy.source_cache import SourceReader
from proxy.storage.base import Storage

# A readiness check raises a PixgateError when its dependency does not answer.
ReadinessCheck = Callable[[], Awaitable[None]]

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STORAGES = web.AppKey("storages", Mapping[str, Storage])
POOL = web.AppKey("pool", TransformPool)
READER = web.AppKey("reader", SourceReader)
IMAGES = web.AppKey("images", ImageService)
READINESS = web.AppKey("readiness", list[ReadinessCheck])
IN_FLIGHT = web.AppKey("in_flight", InFlight)
