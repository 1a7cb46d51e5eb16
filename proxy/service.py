"""The transform request as one straight line:

target ─split─▶ signature ─verify─▶ parse ─▶ Options ─resolve─▶ SourceLocation = Variant
Variant ─(304?)─▶ read original ─▶ probe/plan/render in the pool ─▶ ImageResult

No HTTP types here: :mod:`proxy.handlers` turns the result into a response.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from pixgate_signing import verify_path

from config import Settings
from proxy.coalesce import Coalescer
from proxy.deadline import Deadline
from proxy.direct import parse_direct
from proxy.errors import BadRequest, Forbidden, NotFound
from proxy.ids import is_image_id, storage_key_for
from proxy.metrics import Metrics
from proxy.negotiate import accept_class
from proxy.option_parsers import presets_from_setting
from proxy.options import Options, OutputFormat
from proxy.pipeline import PipelineConfig, Transformed, transform
from proxy.pool import TransformPool
from proxy.source_cache import SourceReader
from proxy.sources import resolve_source
from proxy.storage.base import SourceLocation
from proxy.urlpath import parse_target

# Bump when rendering changes output for the same URL, so CDNs and browsers refetch.
PIPELINE_VERSION = "4"


@dataclass(frozen=True, slots=True)
class Variant:
    """One requested variant: what names it, what to do, and to which original."""

    identity: str  # the signed path or canonical direct target; feeds ETag and coalescing
    options: Options
    location: SourceLocation


@dataclass(frozen=True, slots=True)
class ImageResult:
    body: bytes
    content_type: str
    etag: str
    negotiated: bool
    max_age: int
    source_outcome: str
    width: int
    height: int
    cache_tag: str | None = None
    frames_dropped: int = 0


@dataclass(frozen=True, slots=True)
class NotModified:
    etag: str
    negotiated: bool
    max_age: int
    cache_tag: str | None = None


def split_signature(target: str) -> tuple[str, str]:
    """`/{signature}/rest` → (signature, "/rest"); the rest is what was signed."""
    if not target.startswith("/"):
        raise BadRequest("request path must start with '/'", code="invalid_path")
    signature, slash, rest = target[1:].partition("/")
    if not signature or not slash or not rest:
        raise BadRequest("expected /{signature}/{options}/.../{source}", code="invalid_path")
    return signature, "/" + rest


def make_etag(source_version: str, signed_path: str, variant: str) -> str:
    """A strong validator: same original version + same URL + same negotiated variant
    always render the same bytes."""
    material = "\0".join((PIPELINE_VERSION, source_version, signed_path, variant))
    return '"' + hashlib.sha256(material.encode()).hexdigest()[:32] + '"'


def cache_tag_for(location: SourceLocation) -> str | None:
    """The image id of an uploaded original, so CDNs can purge all its variants by tag."""
    parent, _, name = location.key.rpartition("/")
    if parent.endswith("originals") and is_image_id(name):
        return name
    return None


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return any(tag in ("*", etag) for tag in candidates)


class ImageService:
    def __init__(
        self,
        settings: Settings,
        reader: SourceReader,
        pool: TransformPool,
        pipeline: PipelineConfig,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._reader = reader
        self._pool = pool
        self._pipeline = pipeline
        self._metrics = metrics
        self._presets = presets_from_setting(settings.presets_text)
        self._renders: Coalescer[str, Transformed] = Coalescer()

    def signed_variant(self, target: str) -> Variant:
        """An imgproxy-style target: signature checked before anything else is parsed."""
        settings = self._settings
        signature, signed_path = split_signature(target)
        if not verify_path(signature, signed_path, settings.key_pairs, settings.signature_size):
            raise Forbidden("invalid signature", code="invalid_signature")
        parsed = parse_target(target, self._presets)
        location = resolve_source(parsed.source, settings.storage_url, settings.allowed_sources)
        return Variant(signed_path, parsed.options, location)

    def direct_variant(self, path: str, raw_query: str) -> Variant:
        """A direct link to an uploaded image (`/img_..._m.jpg`, signed query form)."""
        settings = self._settings
        direct = parse_direct(
            path,
            raw_query,
            key_pairs=settings.key_pairs,
            signature_size=settings.signature_size,
            presets=self._presets,
        )
        location = resolve_source(
            storage_key_for(direct.image_id), settings.storage_url, settings.allowed_sources
        )
        return Variant(direct.identity, direct.options, location)

    async def respond(
        self, variant: Variant, accept: str, if_none_match: str | None
    ) -> ImageResult | NotModified:
        options = variant.options
        max_age = self._max_age(options)
        requested = options.format
        accept_variant = accept_class(requested, accept)
        negotiated = requested is None

        if if_none_match:
            version = await self._reader.version(variant.location)
            etag = make_etag(version, variant.identity, accept_variant)
            if etag_matches(if_none_match, etag):
                return NotModified(etag, negotiated, max_age, cache_tag_for(variant.location))

        blob, outcome = await self._reader.read(variant.location)
        etag = make_etag(blob.version, variant.identity, accept_variant)
        cache_tag = cache_tag_for(variant.location)
        uploaded = cache_tag is not None  # an upload: rendered whole
        result, _ = await self._renders.run(
            etag, lambda: self._transform(blob.data, options, requested, accept, uploaded)
        )
        return ImageResult(
            body=result.data,
            content_type=result.format.content_type,
            etag=etag,
            negotiated=negotiated,
            max_age=max_age,
            source_outcome=outcome,
            width=result.width,
            height=result.height,
            cache_tag=cache_tag,
            frames_dropped=result.frames_dropped,
        )

    def _max_age(self, options: Options) -> int:
        if options.expires is None:
            return self._settings.ttl
        remaining = options.expires - int(time.time())
        if remaining <= 0:
            raise NotFound("this URL has expired", code="expired")
        return min(self._settings.ttl, remaining)

    async def _transform(
        self,
        data: bytes,
        options: Options,
        requested: OutputFormat | None,
        accept: str,
        uploaded: bool,
    ) -> Transformed:
        result, seconds = await self._pool.run_with_deadline(
            _timed_transform, data, options, requested, accept, self._pipeline, uploaded
        )
        self._metrics.transform_seconds.labels(result.format.value).observe(seconds)
        return result


def _timed_transform(
    deadline: Deadline,
    data: bytes,
    options: Options,
    requested: OutputFormat | None,
    accept: str,
    config: PipelineConfig,
    uploaded: bool,
) -> tuple[Transformed, float]:
    """The transform and its own duration, without the wait for a pool slot."""
    started = time.perf_counter()
    result = transform(data, options, requested, accept, config, deadline, uploaded=uploaded)
    return result, time.perf_counter() - started
