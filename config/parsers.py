"""Parsers for environment values. Each raises ValueError with what it expected;
the caller adds the variable's name."""

from __future__ import annotations

import os
from collections.abc import Callable

from config.storage_url import parse_storage_url

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected a boolean (1/0, true/false, yes/no, on/off)")


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise ValueError("expected an integer") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else f" and at most {maximum}"
            raise ValueError(f"expected an integer of at least {minimum}{upper}")
        return value

    return parse


def positive_float(maximum: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise ValueError("expected a number") from None
        if not 0 < value <= maximum:
            raise ValueError(f"expected a number above 0 and at most {maximum:g}")
        return value

    return parse


def concurrency(text: str) -> int:
    """An integer, or empty for the number of usable cores."""
    if not text.strip():
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return integer(1, 256)(text)


def bind_address(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError("expected host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:8080")
    return host.strip("[]"), integer(1, 65535)(port)


def url_list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def optional_http_url(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return value.rstrip("/")


def quality(text: str) -> int | None:
    """A lossy quality, 1-100, or `auto` (None): the lowest reaching the quality target."""
    if text.strip().lower() == "auto":
        return None
    try:
        return integer(1, 100)(text)
    except ValueError:
        raise ValueError("expected auto or an integer from 1 to 100") from None


def quality_target(text: str) -> float:
    """An SSIMULACRA2 score that `q:auto` reaches: 30 (low) to 95 (visually lossless)."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("expected a number from 30 to 95 (an SSIMULACRA2 score)") from None
    if not 30 <= value <= 95:
        raise ValueError("expected a number from 30 to 95 (an SSIMULACRA2 score)")
    return value


def format_qualities(text: str) -> tuple[tuple[str, int | None], ...]:
    """`avif=55,webp=auto`: per-format default quality (None: auto)."""
    known = {"jpeg", "png", "webp", "avif", "gif"}
    pairs: list[tuple[str, int | None]] = []
    for item in url_list(text):
        name, sep, value = item.partition("=")
        name = name.strip().lower().replace("jpg", "jpeg")
        if not sep or name not in known:
            raise ValueError(f"expected format=quality pairs with formats from {sorted(known)}")
        pairs.append((name, quality(value)))
    return tuple(pairs)


def log_level(text: str) -> str:
    value = text.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected one of debug, info, warning, error")
    return value


def role(text: str) -> str:
    value = text.strip().lower()
    if value not in {"all", "proxy", "uploader"}:
        raise ValueError("expected all, proxy or uploader")
    return value


def database_url(text: str) -> str:
    value = text.strip()
    if value.startswith("sqlite:///"):
        path = value.removeprefix("sqlite:///")
        if not path:
            raise ValueError("expected sqlite:///path/to/file.db")
        # sqlite:///abs/file.db is absolute (/abs/file.db); sqlite:///./rel.db is resolved
        # once, here, against the working directory.
        if path.startswith("./") or path == ".":
            return "sqlite://" + os.path.abspath(path)
        return "sqlite:///" + path
    if value.startswith(("postgresql://", "postgres://")):
        return value
    raise ValueError("expected postgresql://user:password@host:port/db or sqlite:///path.db")


def api_keys(text: str) -> tuple[tuple[str, str], ...]:
    """`id:secret,id2:secret2` → ((id, secret), ...); ids name owners, so they are short."""
    pairs: list[tuple[str, str]] = []
    for item in url_list(text):
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id.isidentifier() or len(key_id) > 64 or len(secret) < 16:
            raise ValueError(
                "expected id:secret pairs, ids made of letters, digits and _ "
                "(at most 64), secrets of at least 16 characters"
            )
        pairs.append((key_id, secret))
    if len({key_id for key_id, _ in pairs}) != len(pairs):
        raise ValueError("key ids must be unique")
    return tuple(pairs)


def rate(text: str) -> tuple[int, float]:
    """`count/seconds`, or `0` for no limit."""
    value = text.strip()
    if value == "0":
        return (0, 1.0)
    count, sep, seconds = value.partition("/")
    if not sep:
        raise ValueError("expected count/seconds, e.g. 60/60, or 0 for no limit")
    return integer(1, 1_000_000)(count), positive_float(86400)(seconds)


def storage_url(text: str) -> str:
    """`file:///abs/dir` or `s3://bucket[/prefix]`, in canonical form; a relative
    `file://./dir` is resolved once, here, against the working directory."""
    url = text.strip()
    if url.startswith("file://./") or url == "file://.":
        url = "file://" + os.path.abspath(url.removeprefix("file://"))
    return parse_storage_url(url).url


def storage_urls(text: str) -> tuple[str, ...]:
    """Comma-separated storage URLs, each checked and kept as written."""
    urls = url_list(text)
    for url in urls:
        try:
            parse_storage_url(url)
        except ValueError as error:
            raise ValueError(f"{url!r}: {error}") from None
    return urls


STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "GLACIER_IR")


def storage_prices(text: str) -> tuple[tuple[str, float], ...]:
    """`STANDARD=0.023,STANDARD_IA=0.0125,GLACIER_IR=0.004`: USD per GB-month, every class of
    the originals' lifecycle rule once."""
    prices: dict[str, float] = {}
    expected = f"CLASS=price pairs for each of {', '.join(STORAGE_CLASSES)}"
    for item in url_list(text):
        name, sep, value = item.partition("=")
        name = name.strip().upper()
        if not sep or name not in STORAGE_CLASSES or name in prices:
            raise ValueError(f"expected {expected}")
        try:
            price = float(value)
        except ValueError:
            raise ValueError(f"expected {expected}; {value.strip()!r} is not a number") from None
        if not 0 <= price < 1000:
            raise ValueError(f"expected {expected}; prices are USD per GB-month, at least 0")
        prices[name] = price
    if set(prices) != set(STORAGE_CLASSES):
        raise ValueError(f"expected {expected}")
    return tuple((name, prices[name]) for name in STORAGE_CLASSES)
