"""Settings: every PIXGATE_* variable, its default, its parser and its documentation.

Each variable is declared once, as a field of `Settings` made by :func:`setting`. `VARIABLES`
is derived from those fields, and the README table is generated from it
(`pixgate settings --markdown`); a test checks the two agree.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from pixgate_signing import InvalidKey, KeyPair, UrlBuilder, parse_key_pairs

from config import parsers

T = TypeVar("T")


class SettingsError(ValueError):
    """A configuration value that stops start-up; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Variable:
    """One PIXGATE_* variable: the `Settings` field it fills, its default as the environment
    would spell it, its parser, its README text, and whether its value is a secret."""

    name: str
    field: str
    default: str
    parse: Callable[[str], Any]
    description: str
    secret: bool = False


# Where `setting` leaves its Variable in a field's metadata.
_VARIABLE = "pixgate_variable"


def setting(
    name: str,
    default: str,
    parse: Callable[[str], T],
    description: str,
    *,
    secret: bool = False,
) -> T:
    """Declare a `Settings` field read from the variable `name` with `parse` (mypy checks the
    field's type against what `parse` returns). A secret stays out of repr and errors."""
    # The field's own name is known once the class exists; VARIABLES fills it in.
    declared = Variable(name, "", default, parse, description, secret)
    # A dataclasses.Field at run time; typed as T so the annotation is checked against `parse`.
    return cast(T, field(repr=not secret, metadata={_VARIABLE: declared}))


def _text(value: str) -> str:
    return value.strip()


@dataclass(frozen=True, slots=True)
class Settings:
    """All of pixgate's configuration. Built once by :func:`load_settings`."""

    bind: tuple[str, int] = setting(
        "PIXGATE_BIND",
        "127.0.0.1:8080",
        parsers.bind_address,
        "Address and port to listen on (`host:port`).",
    )
    key_hex: str = setting(
        "PIXGATE_KEY",
        "",
        _text,
        "Hex-encoded HMAC key(s), comma-separated; the first signs, any verifies.",
        secret=True,
    )
    salt_hex: str = setting(
        "PIXGATE_SALT",
        "",
        _text,
        "Hex-encoded salt(s), paired with the keys by position.",
        secret=True,
    )
    signature_size: int = setting(
        "PIXGATE_SIGNATURE_SIZE",
        "32",
        parsers.integer(1, 32),
        "Bytes of the HMAC kept in signatures (1-32), as imgproxy's signature size.",
    )
    dev_mode: bool = setting(
        "PIXGATE_DEV",
        "false",
        parsers.boolean,
        "Development mode: with no key configured, generate a throwaway one.",
    )
    storage_url: str = setting(
        "PIXGATE_STORAGE_URL",
        "file://./var/storage",
        parsers.storage_url,
        "Where originals live: `file:///abs/dir` or `s3://bucket[/prefix]`.",
    )
    s3_endpoint_url: str | None = setting(
        "PIXGATE_S3_ENDPOINT_URL",
        "",
        parsers.optional_http_url,
        "Endpoint of an S3-compatible store (empty: AWS). Credentials and region come "
        "from the standard `AWS_*` variables.",
    )
    allowed_sources: tuple[str, ...] = setting(
        "PIXGATE_ALLOWED_SOURCES",
        "",
        parsers.storage_urls,
        "Comma-separated URL prefixes (`s3://bucket/prefix/`, `file:///dir/`) that "
        "absolute sources may name; empty means the storage only.",
    )
    max_src_bytes: int = setting(
        "PIXGATE_MAX_SRC_BYTES",
        str(20 * 1024 * 1024),
        parsers.integer(1),
        "Largest original read, in bytes (413 above).",
    )
    max_src_pixels: int = setting(
        "PIXGATE_MAX_SRC_PIXELS",
        "50000000",
        parsers.integer(1),
        "Largest original, in pixels per frame (422 above), checked from the header.",
    )
    max_output_pixels: int = setting(
        "PIXGATE_MAX_OUTPUT_PIXELS",
        "25000000",
        parsers.integer(1),
        "Largest output, in pixels; bigger requests are scaled down to fit.",
    )
    max_animation_frames: int = setting(
        "PIXGATE_MAX_ANIMATION_FRAMES",
        "100",
        parsers.integer(1, 10000),
        "Frames rendered from animated GIF/WebP sources that are not uploads (signed URLs to "
        "other keys); a response that dropped frames says so in `X-Pixgate-Frames-Dropped`. "
        "Uploaded originals are always rendered whole.",
    )
    max_upload_frames: int = setting(
        "PIXGATE_MAX_UPLOAD_FRAMES",
        "1000",
        parsers.integer(1, 100000),
        "Most frames an uploaded animation may have (422 `too_many_frames` above), counted "
        "from its header before any pixel is decoded.",
    )
    max_animation_pixels: int = setting(
        "PIXGATE_MAX_ANIMATION_PIXELS",
        "125000000",
        parsers.integer(1),
        "Most decoded pixels of an uploaded animation, frames x canvas (422 "
        "`animation_too_large` above; the default admits 500 frames of 500x500), and of the "
        "frames of any animated output.",
    )
    concurrency: int = setting(
        "PIXGATE_CONCURRENCY",
        "",
        parsers.concurrency,
        "Transforms run at once (empty: number of cores).",
    )
    vips_threads: int = setting(
        "PIXGATE_VIPS_THREADS",
        "1",
        parsers.integer(1, 64),
        "libvips threads per transform. PIXGATE_CONCURRENCY transforms already run at once, "
        "so one thread each keeps the cores busy with the least overhead under load; more "
        "lowers a lone request's latency.",
    )
    queue_limit: int = setting(
        "PIXGATE_QUEUE_LIMIT",
        "64",
        parsers.integer(0, 100000),
        "Transforms allowed to wait for a slot; beyond it requests get 503.",
    )
    transform_timeout: float = setting(
        "PIXGATE_TRANSFORM_TIMEOUT",
        "30",
        parsers.positive_float(3600),
        "Seconds one transform may run; past it libvips is stopped and the request gets 503.",
    )
    ttl: int = setting(
        "PIXGATE_TTL",
        "31536000",
        parsers.integer(0),
        "`max-age` of successful responses, in seconds.",
    )
    presets_text: str = setting(
        "PIXGATE_PRESETS",
        "",
        _text,
        "Named option sets: `name=opt/opt,name2=opt` (a preset named `default` "
        "applies to every URL).",
    )
    quality: int | None = setting(
        "PIXGATE_QUALITY",
        "auto",
        parsers.quality,
        "Default quality of lossy outputs: `auto` (the lowest quality reaching "
        "PIXGATE_QUALITY_TARGET, found per image) or 1-100 on pixgate's scale, which "
        "means about the same perceptual quality in JPEG, WebP and AVIF.",
    )
    format_quality: tuple[tuple[str, int | None], ...] = setting(
        "PIXGATE_FORMAT_QUALITY",
        "",
        parsers.format_qualities,
        "Per-format default quality (`format=q,...`, q 1-100 or `auto`), over PIXGATE_QUALITY.",
    )
    quality_target: float = setting(
        "PIXGATE_QUALITY_TARGET",
        "75",
        parsers.quality_target,
        "SSIMULACRA2 score that `q:auto` reaches (30-95; 70 is high quality, 90 visually "
        "lossless). 75: where JPEG Q80 puts the median photo of the corpus (README, Quality).",
    )
    auto_max_encodes: int = setting(
        "PIXGATE_QUALITY_AUTO_MAX_ENCODES",
        "3",
        parsers.integer(1, 8),
        "Encodes `q:auto` may try per image (1: the calibrated starting quality only).",
    )
    webp_effort: int = setting(
        "PIXGATE_WEBP_EFFORT",
        "2",
        parsers.integer(0, 6),
        "libvips WebP encoder effort (0 fastest - 6 smallest). 2 costs a quarter less "
        "CPU than libvips' 4 for 0.6% more bytes (docs/performance.md).",
    )
    avif_effort: int = setting(
        "PIXGATE_AVIF_EFFORT",
        "4",
        parsers.integer(0, 9),
        "libvips AVIF encoder effort (0 fastest - 9 smallest); 4 as sharp (README, Quality).",
    )
    source_cache_bytes: int = setting(
        "PIXGATE_SOURCE_CACHE_BYTES",
        str(256 * 1024 * 1024),
        parsers.integer(0),
        "In-process cache of fetched originals, in bytes (0: off).",
    )
    source_cache_ttl: int = setting(
        "PIXGATE_SOURCE_CACHE_TTL",
        "60",
        parsers.integer(1),
        "Seconds an original stays in that cache.",
    )
    fetch_timeout: float = setting(
        "PIXGATE_FETCH_TIMEOUT",
        "10",
        parsers.positive_float(600),
        "Seconds allowed for one storage call, its retries included (504 after).",
    )
    fetch_attempts: int = setting(
        "PIXGATE_FETCH_ATTEMPTS",
        "3",
        parsers.integer(1, 10),
        "Attempts for each storage call (all are idempotent), with jittered backoff of "
        "at most 1 s between them.",
    )
    public_url: str | None = setting(
        "PIXGATE_PUBLIC_URL",
        "",
        parsers.optional_http_url,
        "Base URL printed in links (the CDN in production; default: the bind address).",
    )
    log_level: str = setting(
        "PIXGATE_LOG_LEVEL",
        "info",
        parsers.log_level,
        "debug, info, warning or error.",
    )
    shutdown_timeout: float = setting(
        "PIXGATE_SHUTDOWN_TIMEOUT",
        "20",
        parsers.positive_float(3600),
        "Seconds a stopping server (SIGTERM) lets requests in flight finish before it "
        "cancels them.",
    )
    role: str = setting(
        "PIXGATE_ROLE",
        "all",
        parsers.role,
        "What `pixgate serve` runs: `all`, `proxy` or `uploader` (they scale separately).",
    )
    database_url: str = setting(
        "PIXGATE_DATABASE_URL",
        "sqlite:///./var/pixgate.db",
        parsers.database_url,
        "Metadata database: `postgresql://user:pass@host/db` or `sqlite:///path.db`.",
        secret=True,
    )
    db_pool_size: int = setting(
        "PIXGATE_DB_POOL_SIZE",
        "10",
        parsers.integer(1, 1000),
        "Connections in the PostgreSQL pool of each process.",
    )
    db_timeout: float = setting(
        "PIXGATE_DB_TIMEOUT",
        "5",
        parsers.positive_float(600),
        "Seconds to wait for a database connection before answering 503.",
    )
    migrate_on_start: bool = setting(
        "PIXGATE_MIGRATE_ON_START",
        "false",
        parsers.boolean,
        "Apply pending schema migrations at start-up (always on in dev mode).",
    )
    max_upload_bytes: int = setting(
        "PIXGATE_MAX_UPLOAD_BYTES",
        str(20 * 1024 * 1024),
        parsers.integer(1),
        "Largest upload accepted, in bytes (413 as soon as the body crosses it).",
    )
    api_keys: tuple[tuple[str, str], ...] = setting(
        "PIXGATE_API_KEYS",
        "",
        parsers.api_keys,
        "Upload keys as `id:secret,id2:secret2`; when set, uploads need "
        "`Authorization: Bearer <secret>` and are owned by the key's id.",
        secret=True,
    )
    admin_key: str = setting(
        "PIXGATE_ADMIN_KEY",
        "",
        _text,
        "A key that may delete any image (`Authorization: Bearer <key>`); empty: none.",
        secret=True,
    )
    keep_gps: bool = setting(
        "PIXGATE_KEEP_GPS",
        "false",
        parsers.boolean,
        "Keep GPS coordinates in the stored EXIF metadata (served images never carry EXIF).",
    )
    purge_url: str | None = setting(
        "PIXGATE_PURGE_URL",
        "",
        parsers.optional_http_url,
        "Edge purge endpoint called for every fixed link of a deleted image "
        "(`GET {url}/{class}/{path}`, class avif, webp or other, as `make edge` serves); "
        "empty: none.",
    )
    upload_rate: tuple[int, float] = setting(
        "PIXGATE_UPLOAD_RATE",
        "60/60",
        parsers.rate,
        "Uploads allowed per client as `count/seconds` (`0` turns the limit off).",
    )
    storage_prices: tuple[tuple[str, float], ...] = setting(
        "PIXGATE_STORAGE_PRICES",
        "STANDARD=0.023,STANDARD_IA=0.0125,GLACIER_IR=0.004",
        parsers.storage_prices,
        "USD per GB-month of each storage class of the originals' lifecycle rule, for the "
        "storage cost per image (`pixgate analytics report`, the ingester's metrics); the "
        "defaults are S3's us-east-1 list prices (README, Views and edge figures, has their "
        "date).",
    )
    analytics_batch_lines: int = setting(
        "PIXGATE_ANALYTICS_BATCH_LINES",
        "50000",
        parsers.integer(1, 10_000_000),
        "Log lines `pixgate analytics ingest` counts per database transaction (memory is "
        "bounded by the batch).",
    )
    # Derived values, validated alongside the raw ones.
    key_pairs: tuple[KeyPair, ...] = field(repr=False, default=())
    generated_key: bool = False

    @property
    def base_url(self) -> str:
        """Where clients reach pixgate: PIXGATE_PUBLIC_URL or the bind address."""
        if self.public_url:
            return self.public_url
        host, port = self.bind
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        return f"http://{shown}:{port}"

    def url_builder(self, base_url: str | None = None) -> UrlBuilder:
        """Signs URLs with the first configured key, for links pixgate hands out."""
        signing_pair = self.key_pairs[0]
        return UrlBuilder(
            base_url or self.base_url,
            signing_pair.key,
            signing_pair.salt,
            signature_size=self.signature_size,
        )

    @property
    def storage_schemes(self) -> frozenset[str]:
        """Backends needed: the storage's and those of the allowed sources."""
        return frozenset(
            url.split("://", 1)[0] for url in (self.storage_url, *self.allowed_sources)
        )


VARIABLES: tuple[Variable, ...] = tuple(
    dataclasses.replace(f.metadata[_VARIABLE], field=f.name)
    for f in dataclasses.fields(Settings)
    if _VARIABLE in f.metadata
)


def variable_value(name: str, overrides: Mapping[str, str] | None = None) -> Any:
    """One variable's parsed value: from `overrides` when given there, else its default.
    Raises KeyError for a name that is no variable, ValueError for a bad value."""
    variable = next((v for v in VARIABLES if v.name == name), None)
    if variable is None:
        raise KeyError(name)
    return variable.parse((overrides or {}).get(name, variable.default))


def load_settings(env: Mapping[str, str] | None = None, *, dev: bool = False) -> Settings:
    """Read and validate every variable; raise SettingsError naming the first bad one."""
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for variable in VARIABLES:
        raw = source.get(variable.name, variable.default)
        try:
            values[variable.field] = variable.parse(raw)
        except ValueError as error:
            shown = "" if variable.secret else f", got {raw!r}"
            raise SettingsError(f"{variable.name}: {error}{shown}") from None
    if dev:
        values["dev_mode"] = True
    values.update(_keys(values["key_hex"], values["salt_hex"], values["dev_mode"]))
    return Settings(**values)


def _keys(key_hex: str, salt_hex: str, dev_mode: bool) -> dict[str, Any]:
    if not key_hex and not salt_hex:
        if not dev_mode:
            raise SettingsError(
                "PIXGATE_KEY: no signing key configured; set PIXGATE_KEY and PIXGATE_SALT "
                "(`pixgate keygen` prints a pair) or start in dev mode (`pixgate serve --dev`)"
            )
        pair = KeyPair(secrets.token_bytes(32), secrets.token_bytes(16))
        return {"key_pairs": (pair,), "generated_key": True}
    try:
        return {"key_pairs": parse_key_pairs(key_hex, salt_hex)}
    except InvalidKey as error:
        raise SettingsError(f"PIXGATE_KEY/PIXGATE_SALT: {error}") from None


def markdown_table() -> str:
    """The configuration table of the README."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for variable in VARIABLES:
        default = f"`{variable.default}`" if variable.default else "(empty)"
        lines.append(f"| `{variable.name}` | {default} | {variable.description} |")
    return "\n".join(lines)


TABLE_START = "<!-- settings table: generated by `pixgate settings --update-readme` -->"
TABLE_END = "<!-- end of settings table -->"


def with_current_table(readme: str) -> str:
    """`readme` with the text between the table markers replaced by `markdown_table()`."""
    head, start, rest = readme.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not start or not end:
        raise ValueError("README has no settings table markers")
    return f"{head}{TABLE_START}\n{markdown_table()}\n{TABLE_END}{tail}"
