"""The `pixgate` command: serve, plus the proxy's (sign, keygen, settings) and the uploader's
(upload, migrate, storage, reap, backfill-placeholders) commands, which each role registers
itself."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from config import Settings, SettingsError, load_settings
from pixgate.app import create_app
from proxy import commands as proxy_commands
from proxy.errors import StartupError
from proxy.logs import configure_logging
from proxy.sample import example_urls, seed_sample
from proxy.server import limit_malloc_arenas, serve_until_signalled

log = logging.getLogger("pixgate")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # `serve` imports only the roles it runs, so its parser leaves the uploader's commands out.
    parser = _parser(with_uploader=arguments[:1] != ["serve"])
    args, extra = parser.parse_known_args(arguments)
    if extra and (
        not getattr(args, "takes_trailing_options", False) or any(a.startswith("-") for a in extra)
    ):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.options = [*args.options, *extra]
    try:
        result: int = args.run(args)
    except SettingsError as error:
        print(f"pixgate: configuration error: {error}", file=sys.stderr)
        return 2
    except StartupError as error:  # e.g. the database PIXGATE_DATABASE_URL names
        print(f"pixgate: {error}", file=sys.stderr)
        return 1
    return result


def _parser(*, with_uploader: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pixgate", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the image server")
    serve.add_argument(
        "--dev",
        action="store_true",
        help="development mode: throwaway key if none is set, sample image, example URLs",
    )
    serve.add_argument(
        "--role",
        choices=["all", "proxy", "uploader"],
        help="run the proxy, the uploader or both (default: PIXGATE_ROLE, else all)",
    )
    serve.set_defaults(run=_serve)
    if with_uploader:
        from uploader import commands as uploader_commands

        uploader_commands.register(commands)
    proxy_commands.register(commands)
    return parser


def _serve(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.role:
        env["PIXGATE_ROLE"] = args.role
    settings = load_settings(env, dev=args.dev)
    configure_logging(settings.log_level)
    if settings.generated_key:
        for line in (
            "DEV MODE: no PIXGATE_KEY/PIXGATE_SALT set, so a THROWAWAY signing key was generated.",
            "DEV MODE: URLs signed with it stop working when this process stops.",
            "DEV MODE: never run like this in production; `pixgate keygen` prints a real key.",
        ):
            log.warning(line)
    if settings.dev_mode:
        seed_sample(settings)
    limit_malloc_arenas()
    app = create_app(settings)
    asyncio.run(serve_until_signalled(app, settings, lambda: _print_welcome(settings)))
    return 0


def _print_welcome(settings: Settings) -> None:
    if not settings.dev_mode:
        return
    print(f"\npixgate is running on {settings.base_url}  (Ctrl-C stops it)", flush=True)
    if settings.role != "proxy":
        print(f"open {settings.base_url}/ and drop a photo\n", flush=True)
    for label, url in example_urls(settings).items():
        print(f"  {label}:\n    {url}\n", flush=True)
