"""The proxy's commands: `sign`, `keygen` and `settings`. The root (`pixgate.cli`) registers
them beside `serve` and the uploader's commands."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import Any

from config import load_settings
from config.settings import markdown_table, with_current_table


def register(commands: Any) -> None:
    """Add the proxy's sub-commands to `commands` (an argparse sub-parsers action)."""
    sign = commands.add_parser("sign", help="print a signed URL for a source")
    sign.add_argument("source", help="storage key, local:///path or s3://bucket/key")
    sign.add_argument("--width", type=int, default=0)
    sign.add_argument("--height", type=int, default=0)
    sign.add_argument("--fit", choices=["fit", "fill", "fill-down", "force", "auto"])
    sign.add_argument("--format", choices=["jpeg", "jpg", "png", "webp", "avif", "gif"])
    sign.add_argument("--quality", type=int)
    sign.add_argument("--base", help="base URL (default: PIXGATE_PUBLIC_URL or the bind address)")
    sign.add_argument("options", nargs="*", help="extra option segments, e.g. g:sm bl:2")
    # Option segments may follow --flags (`sign SRC --width 9 g:sm`).
    sign.set_defaults(run=_sign, takes_trailing_options=True)

    keygen = commands.add_parser("keygen", help="print a fresh random key and salt")
    keygen.set_defaults(run=_keygen)

    settings = commands.add_parser("settings", help="document every PIXGATE_* variable")
    settings.add_argument("--markdown", action="store_true", help="as the README's table")
    settings.add_argument(
        "--update-readme", type=Path, metavar="README", help="rewrite the table in README"
    )
    settings.set_defaults(run=_settings)


def _sign(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        url = settings.url_builder(args.base).url(
            args.source,
            width=args.width,
            height=args.height,
            fit=args.fit,
            format=args.format,
            quality=args.quality,
            options=args.options,
        )
    except ValueError as error:
        print(f"pixgate sign: {error}", file=sys.stderr)
        return 2
    print(url)
    return 0


def _keygen(args: argparse.Namespace) -> int:
    print(f"PIXGATE_KEY={secrets.token_hex(32)}")
    print(f"PIXGATE_SALT={secrets.token_hex(16)}")
    return 0


def _settings(args: argparse.Namespace) -> int:
    if args.update_readme:
        readme: Path = args.update_readme
        readme.write_text(with_current_table(readme.read_text()))
        return 0
    print(markdown_table())
    return 0
