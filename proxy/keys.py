"""Typed keys for what the aiohttp application shares between handlers."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from config import Settings
from proxy.metrics import Metrics
from proxy.service import ImageService
from proxy.storage.base import Storage

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
STORAGES = web.AppKey("storages", Mapping[str, Storage])
IMAGES = web.AppKey("images", ImageService)
