"""Parsers for environment values. Each raises ValueError with what it expected;
the caller adds the variable's name."""

from __future__ import annotations

import os
from collections.abc import Callable

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


def format_qualities(text: str) -> tuple[tuple[str, int], ...]:
    """`avif=55,webp=80`: per-format default quality."""
    known = {"jpeg", "png", "webp", "avif", "gif"}
    pairs: list[tuple[str, int]] = []
    for item in url_list(text):
        name, sep, value = item.partition("=")
        name = name.strip().lower().replace("jpg", "jpeg")
        if not sep or name not in known:
            raise ValueError(f"expected format=quality pairs with formats from {sorted(known)}")
        pairs.append((name, integer(1, 100)(value)))
    return tuple(pairs)


def log_level(text: str) -> str:
    value = text.strip().upper()
    if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("expected one of debug, info, warning, error")
    return value
