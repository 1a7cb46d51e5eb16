"""Fuzz the URL grammar and the signature check with atheris (libFuzzer, coverage-guided).

    python -m tests.fuzz.fuzz_urls -atheris_runs=1000000 [-max_len=2048] [corpus_dir ...]

The seeds below are written into each corpus directory given (into a temporary one when
none is), and libFuzzer adds the inputs it finds interesting there.

The first byte of an input picks what is fuzzed; the rest, decoded as a lenient HTTP parser
decodes a request line (UTF-8, raw bytes that are not UTF-8 as lone surrogates), is:

0. a request target, through the chain the proxy runs before any I/O: split the signature,
   verify it, parse the target, resolve the source;
1. the same after the signature, signed with the real key, so the parsers behind the
   signature check are reached too;
2. a direct link (path and query);
3. option segments, '/'-separated;
4. a source, resolved against file and S3 storage.

Refusals must be `PixgateError`s that become 400 or 403; anything else is a crash, which
libFuzzer reports with the input that caused it (and saves it as crash-<sha1>).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["proxy", "pixgate_signing", "proxy.ids"]):
    from pixgate_signing import parse_key_pairs, sign_path, verify_path

    from proxy.direct import parse_direct
    from proxy.errors import PixgateError
    from proxy.option_parsers import parse_options
    from proxy.sources import resolve_source
    from proxy.urlpath import parse_target

# Imported after the parsers it uses, so they stay instrumented; nothing of its own to cover.
from proxy.service import split_signature

KEY_PAIRS = parse_key_pairs("736563726574", "68656C6C6F")
PRESETS = {"default": ("q:70",), "thumb": ("rs:fill:100:100", "pr:small"), "small": ("w:10",)}
STORAGE_URLS = ("file:///srv/images", "s3://bucket/media")
ALLOWED = ("s3://bucket/media", "s3://public/assets", "file:///srv/images")
MODES = 5


def signed_chain(target: str) -> Any:
    """ImageService.signed_variant before any I/O, in its order."""
    signature, signed_path = split_signature(target)
    if not verify_path(signature, signed_path, KEY_PAIRS):
        return None
    parsed = parse_target(target, PRESETS)
    return resolve_source(parsed.source, STORAGE_URLS[len(target) % 2], ALLOWED)


def sign_and_check(rest: str) -> Any:
    rest = "/" + rest.lstrip("/")
    try:
        signature = sign_path(rest, KEY_PAIRS[0])
    except UnicodeEncodeError:  # lone surrogates: no key holder could sign this text
        signature = "invalid"
    return signed_chain(f"/{signature}{rest}")


def direct(text: str) -> Any:
    path, _, query = text.partition("?")
    return parse_direct(path, query, key_pairs=KEY_PAIRS, signature_size=32, presets=PRESETS)


def source(text: str) -> Any:
    for storage_url in STORAGE_URLS:
        resolve_source(text, storage_url, ())
        resolve_source(text, storage_url, ALLOWED)


FUZZED: tuple[Callable[[str], Any], ...] = (
    signed_chain,
    sign_and_check,
    direct,
    lambda text: parse_options(text.split("/"), PRESETS),
    source,
)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    text = data[1:].decode("utf-8", "surrogateescape")
    try:
        FUZZED[data[0] % MODES](text)
    except PixgateError as error:
        if error.status not in (400, 403) or not error.message:
            raise


# Inputs that reach deep into each mode quickly; libFuzzer mutates from these.
SEEDS: tuple[bytes, ...] = (
    b"\x00/sig/rs:fill:300:400:0/g:sm/plain/originals/cat.jpg@webp?q=80",
    b"\x01/rs:fit:10:20/q:50/plain/originals/a%20b.jpg@png",
    b"\x01/w:300/pr:thumb/b3JpZ2luYWxzL2NhdC5qcGc.webp",
    b"\x01/plain/s3://bucket/media/x.jpg?w=1&fit=cover&f=avif",
    b"\x01/ex:1:no:1:2/bg:ff0000/bl:2/sh:1/rot:90/ar:0/sm:1/cb:x/exp:9999999999/plain/local:///x",
    b"\x02/img_aaaaaaaaaaaaaaaaaaaa.jpg?w=300&h=200&fit=cover&fmt=webp&q=85&s=AAAA",
    b"\x02/img_aaaaaaaaaaaaaaaaaaaa_m.webp",
    b"\x03rs:fill:1:2:1:1/g:noea:0.5:-3/fq:webp:50:avif:40/mb:1000/dpr:2.5/pr:thumb",
    b"\x04s3://public/assets/a/b.jpg",
    b"\x04local:///a/../b\\c%2e",
)


def main(argv: list[str]) -> None:
    corpora = [arg for arg in argv[1:] if not arg.startswith("-")]
    if not corpora:
        corpora = [tempfile.mkdtemp(prefix="pixgate-fuzz-urls-")]
        argv = [*argv, *corpora]
    for corpus in corpora:
        for number, seed in enumerate(SEEDS):
            (Path(corpus) / f"seed-{number}").write_bytes(seed)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
