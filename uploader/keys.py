"""Typed keys for the uploader's shared state in the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from uploader.auth import ApiKeys
from uploader.ratelimit import RateLimiter
from uploader.repository import ImageRepository
from uploader.service import UploadService

API_KEYS = web.AppKey("api_keys", ApiKeys)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
REPOSITORY = web.AppKey("repository", ImageRepository)
UPLOADS = web.AppKey("uploads", UploadService)
