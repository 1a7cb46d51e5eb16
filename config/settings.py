"""Settings: every PIXGATE_* variable, its default, its parser and its documentation.

`VARIABLES` is the single list of variables; the README table is generated from it
(`pixgate settings --markdown`) and a test checks the two agree.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pixgate_signing import InvalidKey, KeyPair, UrlBuilder, parse_key_pairs

from config import parsers
from config.storage_url import parse_storage_url


class SettingsError(ValueError):
    """A configuration value that stops start-up; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    field: str
    default: str
    parse: Callable[[str], Any]
    description: str
    secret: bool = False


def _text(value: str) -> str:
    return value.strip()


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "PIXGATE_BIND",
        "bind",
        "127.0.0.1:8080",
        parsers.bind_address,
        "Address and port to listen on (`host:port`).",
    ),
    Variable(
        "PIXGATE_KEY",
        "key_hex",
        "",
        _text,
        "Hex-encoded HMAC key(s), comma-separated; the first signs, any verifies.",
        secret=True,
    ),
    Variable(
        "PIXGATE_SALT",
        "salt_hex",
        "",
        _text,
        "Hex-encoded salt(s), paired with the keys by position.",
        secret=True,
    ),
    Variable(
        "PIXGATE_SIGNATURE_SIZE",
        "signature_size",
        "32",
        parsers.integer(1, 32),
        "Bytes of the HMAC kept in signatures (1-32), as imgproxy's signature size.",
    ),
    Variable(
        "PIXGATE_DEV",
        "dev_mode",
        "false",
        parsers.boolean,
        "Development mode: with no key configured, generate a throwaway one.",
    ),
    Variable(
        "PIXGATE_STORAGE_URL",
        "storage_url",
        "file://./var/storage",
        _text,
        "Where originals live: `file:///abs/dir` or `s3://bucket[/prefix]`.",
    ),
    Variable(
        "PIXGATE_S3_ENDPOINT_URL",
        "s3_endpoint_url",
        "",
        parsers.optional_http_url,
        "Endpoint of an S3-compatible store (empty: AWS). Credentials and region come "
        "from the standard `AWS_*` variables.",
    ),
    Variable(
        "PIXGATE_ALLOWED_SOURCES",
        "allowed_sources",
        "",
        parsers.url_list,
        "Comma-separated URL prefixes (`s3://bucket/prefix/`, `file:///dir/`) that "
        "absolute sources may name; empty means the storage only.",
    ),
    Variable(
        "PIXGATE_MAX_SRC_BYTES",
        "max_src_bytes",
        str(20 * 1024 * 1024),
        parsers.integer(1),
        "Largest original read, in bytes (413 above).",
    ),
    Variable(
        "PIXGATE_MAX_SRC_PIXELS",
        "max_src_pixels",
        "50000000",
        parsers.integer(1),
        "Largest original, in pixels per frame (422 above), checked from the header.",
    ),
    Variable(
        "PIXGATE_MAX_OUTPUT_PIXELS",
        "max_output_pixels",
        "25000000",
        parsers.integer(1),
        "Largest output, in pixels; bigger requests are scaled down to fit.",
    ),
    Variable(
        "PIXGATE_MAX_ANIMATION_FRAMES",
        "max_animation_frames",
        "100",
        parsers.integer(1, 10000),
        "Frames kept from animated GIF/WebP sources.",
    ),
    Variable(
        "PIXGATE_CONCURRENCY",
        "concurrency",
        "",
        parsers.concurrency,
        "Transforms run at once (empty: number of cores).",
    ),
    Variable(
        "PIXGATE_VIPS_THREADS",
        "vips_threads",
        "1",
        parsers.integer(1, 64),
        "libvips threads per transform. PIXGATE_CONCURRENCY transforms already run at once, "
        "so one thread each keeps the cores busy with the least overhead under load; more "
        "lowers a lone request's latency.",
    ),
    Variable(
        "PIXGATE_QUEUE_LIMIT",
        "queue_limit",
        "64",
        parsers.integer(0, 100000),
        "Transforms allowed to wait for a slot; beyond it requests get 503.",
    ),
    Variable(
        "PIXGATE_TRANSFORM_TIMEOUT",
        "transform_timeout",
        "30",
        parsers.positive_float(3600),
        "Seconds one transform may run; past it libvips is stopped and the request gets 503.",
    ),
    Variable(
        "PIXGATE_TTL",
        "ttl",
        "31536000",
        parsers.integer(0),
        "`max-age` of successful responses, in seconds.",
    ),
    Variable(
        "PIXGATE_PRESETS",
        "presets_text",
        "",
        _text,
        "Named option sets: `name=opt/opt,name2=opt` (a preset named `default` "
        "applies to every URL).",
    ),
    Variable(
        "PIXGATE_QUALITY",
        "quality",
        "80",
        parsers.integer(1, 100),
        "Default quality of lossy outputs.",
    ),
    Variable(
        "PIXGATE_FORMAT_QUALITY",
        "format_quality",
        "avif=55,webp=80,jpeg=80",
        parsers.format_qualities,
        "Per-format default quality (`format=q,...`).",
    ),
    Variable(
        "PIXGATE_WEBP_EFFORT",
        "webp_effort",
        "2",
        parsers.integer(0, 6),
        "libvips WebP encoder effort (0 fastest - 6 smallest). 2 costs a quarter less "
        "CPU than libvips' 4 for 0.6% more bytes (docs/performance.md).",
    ),
    Variable(
        "PIXGATE_AVIF_EFFORT",
        "avif_effort",
        "2",
        parsers.integer(0, 9),
        "libvips AVIF encoder effort (0 fastest - 9 smallest).",
    ),
    Variable(
        "PIXGATE_SOURCE_CACHE_BYTES",
        "source_cache_bytes",
        str(256 * 1024 * 1024),
        parsers.integer(0),
        "In-process cache of fetched originals, in bytes (0: off).",
    ),
    Variable(
        "PIXGATE_SOURCE_CACHE_TTL",
        "source_cache_ttl",
        "60",
        parsers.integer(1),
        "Seconds an original stays in that cache.",
    ),
    Variable(
        "PIXGATE_FETCH_TIMEOUT",
        "fetch_timeout",
        "10",
        parsers.positive_float(600),
        "Seconds allowed for one storage call, its retries included (504 after).",
    ),
    Variable(
        "PIXGATE_FETCH_ATTEMPTS",
        "fetch_attempts",
        "3",
        parsers.integer(1, 10),
        "Attempts for each storage call (all are idempotent), with jittered backoff of "
        "at most 1 s between them.",
    ),
    Variable(
        "PIXGATE_PUBLIC_URL",
        "public_url",
        "",
        parsers.optional_http_url,
        "Base URL printed in links (the CDN in production; default: the bind address).",
    ),
    Variable(
        "PIXGATE_LOG_LEVEL",
        "log_level",
        "info",
        parsers.log_level,
        "debug, info, warning or error.",
    ),
    Variable(
        "PIXGATE_SHUTDOWN_TIMEOUT",
        "shutdown_timeout",
        "20",
        parsers.positive_float(3600),
        "Seconds a stopping server (SIGTERM) lets requests in flight finish before it "
        "cancels them.",
    ),
    Variable(
        "PIXGATE_ROLE",
        "role",
        "all",
        parsers.role,
        "What `pixgate serve` runs: `all`, `proxy` or `uploader` (they scale separately).",
    ),
    Variable(
        "PIXGATE_DATABASE_URL",
        "database_url",
        "sqlite:///./var/pixgate.db",
        parsers.database_url,
        "Metadata database: `postgresql://user:pass@host/db` or `sqlite:///path.db`.",
        secret=True,
    ),
    Variable(
        "PIXGATE_DB_POOL_SIZE",
        "db_pool_size",
        "10",
        parsers.integer(1, 1000),
        "Connections in the PostgreSQL pool of each process.",
    ),
    Variable(
        "PIXGATE_DB_TIMEOUT",
        "db_timeout",
        "5",
        parsers.positive_float(600),
        "Seconds to wait for a database connection before answering 503.",
    ),
    Variable(
        "PIXGATE_MIGRATE_ON_START",
        "migrate_on_start",
        "false",
        parsers.boolean,
        "Apply pending schema migrations at start-up (always on in dev mode).",
    ),
    Variable(
        "PIXGATE_MAX_UPLOAD_BYTES",
        "max_upload_bytes",
        str(20 * 1024 * 1024),
        parsers.integer(1),
        "Largest upload accepted, in bytes (413 as soon as the body crosses it).",
    ),
    Variable(
        "PIXGATE_API_KEYS",
        "api_keys",
        "",
        parsers.api_keys,
        "Upload keys as `id:secret,id2:secret2`; when set, uploads need "
        "`Authorization: Bearer <secret>` and are owned by the key's id.",
        secret=True,
    ),
    Variable(
        "PIXGATE_ADMIN_KEY",
        "admin_key",
        "",
        _text,
        "A key that may delete any image (`Authorization: Bearer <key>`); empty: none.",
        secret=True,
    ),
    Variable(
        "PIXGATE_KEEP_GPS",
        "keep_gps",
        "false",
        parsers.boolean,
        "Keep GPS coordinates in the stored EXIF metadata (served images never carry EXIF).",
    ),
    Variable(
        "PIXGATE_PURGE_URL",
        "purge_url",
        "",
        parsers.optional_http_url,
        "Edge purge endpoint called for every fixed link of a deleted image "
        "(`GET {url}/{class}/{path}`, class avif, webp or other, as `make edge` serves); "
        "empty: none.",
    ),
    Variable(
        "PIXGATE_UPLOAD_RATE",
        "upload_rate",
        "60/60",
        parsers.rate,
        "Uploads allowed per client as `count/seconds` (`0` turns the limit off).",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """All of pixgate's configuration. Built once by :func:`load_settings`."""

    bind: tuple[str, int]
    key_hex: str = field(repr=False)
    salt_hex: str = field(repr=False)
    signature_size: int
    dev_mode: bool
    storage_url: str
    s3_endpoint_url: str | None
    allowed_sources: tuple[str, ...]
    max_src_bytes: int
    max_src_pixels: int
    max_output_pixels: int
    max_animation_frames: int
    concurrency: int
    vips_threads: int
    queue_limit: int
    transform_timeout: float
    ttl: int
    presets_text: str
    quality: int
    format_quality: tuple[tuple[str, int], ...]
    webp_effort: int
    avif_effort: int
    source_cache_bytes: int
    source_cache_ttl: int
    fetch_timeout: float
    fetch_attempts: int
    public_url: str | None
    log_level: str
    shutdown_timeout: float
    role: str
    database_url: str = field(repr=False)
    db_pool_size: int
    db_timeout: float
    migrate_on_start: bool
    max_upload_bytes: int
    api_keys: tuple[tuple[str, str], ...] = field(repr=False)
    admin_key: str = field(repr=False)
    keep_gps: bool
    upload_rate: tuple[int, float]
    purge_url: str | None
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
    values["storage_url"] = _storage_url(values["storage_url"])
    values["allowed_sources"] = tuple(_allowed(url) for url in values["allowed_sources"])
    values.update(_keys(values["key_hex"], values["salt_hex"], values["dev_mode"]))
    return Settings(**values)


def _storage_url(url: str) -> str:
    if url.startswith("file://./") or url == "file://.":
        # A relative file URL is resolved once, here, against the working directory.
        url = "file://" + os.path.abspath(url.removeprefix("file://"))
    try:
        return parse_storage_url(url).url
    except ValueError as error:
        raise SettingsError(f"PIXGATE_STORAGE_URL: {error}, got {url!r}") from None


def _allowed(url: str) -> str:
    try:
        parse_storage_url(url)
    except ValueError as error:
        raise SettingsError(f"PIXGATE_ALLOWED_SOURCES: {error}, got {url!r}") from None
    return url


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
