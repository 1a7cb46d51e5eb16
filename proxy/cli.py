"""The `pixgate` command: serve, upload, migrate, storage, reap, sign, keygen, settings."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from config import Settings, SettingsError, load_settings
from config.settings import markdown_table, with_current_table
from config.storage_url import parse_storage_url
from proxy.app import MAX_LINE_SIZE, create_app
from proxy.drain import InFlight
from proxy.errors import PixgateError
from proxy.keys import IN_FLIGHT
from proxy.logs import configure_logging
from proxy.sources import resolve_source
from proxy.storage import open_storages
from proxy.storage.base import SourceLocation, StorageSettings
from uploader.lifecycle import (
    LifecycleError,
    apply_lifecycle,
    lifecycle_configuration,
    originals_target,
)
from uploader.migrate import migrate
from uploader.reaper import DEFAULT_GRACE, Reaped, reap
from uploader.repository import RepositoryError, open_repository

log = logging.getLogger("pixgate")

SAMPLE_KEY = "samples/sample.jpg"
# After the drain: how long aiohttp lets answers still being written finish, before it cuts off.
SEND_GRACE_SECONDS = 1.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    # Option segments may follow --flags (`sign SRC --width 9 g:sm`), which plain
    # parse_args would refuse once the positionals were consumed.
    args, extra = parser.parse_known_args(argv)
    if extra and (getattr(args, "run", None) is not _sign or any(a.startswith("-") for a in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.options = [*args.options, *extra]
    try:
        result: int = args.run(args)
    except SettingsError as error:
        print(f"pixgate: configuration error: {error}", file=sys.stderr)
        return 2
    return result


def _parser() -> argparse.ArgumentParser:
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

    upload = commands.add_parser("upload", help="upload an image through the API")
    upload.add_argument("file", type=Path)
    upload.add_argument("--title", default="")
    upload.add_argument("--description", default="")
    upload.add_argument("--base", help="pixgate's URL (default: the bind address)")
    upload.add_argument("--api-key", help="bearer key (default: PIXGATE_UPLOAD_KEY)")
    upload.set_defaults(run=_upload)

    migrate_command = commands.add_parser("migrate", help="apply pending schema migrations")
    migrate_command.set_defaults(run=_migrate)

    storage = commands.add_parser("storage", help="storage administration")
    storage_commands = storage.add_subparsers(required=True, metavar="ACTION")
    lifecycle = storage_commands.add_parser(
        "lifecycle", help="show (or --apply) the S3 lifecycle rule for originals"
    )
    lifecycle.add_argument("--apply", action="store_true", help="put the rule on the bucket")
    lifecycle.set_defaults(run=_lifecycle)

    reap_command = commands.add_parser(
        "reap", help="remove originals left without a row, and rows deleted long ago"
    )
    reap_command.add_argument(
        "--grace",
        type=float,
        default=DEFAULT_GRACE.total_seconds(),
        help="only what is older than this many seconds (default: %(default)g)",
    )
    reap_command.add_argument("--apply", action="store_true", help="remove (default: only list)")
    reap_command.set_defaults(run=_reap)

    sign = commands.add_parser("sign", help="print a signed URL for a source")
    sign.add_argument("source", help="storage key, local:///path or s3://bucket/key")
    sign.add_argument("--width", type=int, default=0)
    sign.add_argument("--height", type=int, default=0)
    sign.add_argument("--fit", choices=["fit", "fill", "fill-down", "force", "auto"])
    sign.add_argument("--format", choices=["jpeg", "jpg", "png", "webp", "avif", "gif"])
    sign.add_argument("--quality", type=int)
    sign.add_argument("--base", help="base URL (default: PIXGATE_PUBLIC_URL or the bind address)")
    sign.add_argument("options", nargs="*", help="extra option segments, e.g. g:sm bl:2")
    sign.set_defaults(run=_sign)

    keygen = commands.add_parser("keygen", help="print a fresh random key and salt")
    keygen.set_defaults(run=_keygen)

    settings = commands.add_parser("settings", help="document every PIXGATE_* variable")
    settings.add_argument("--markdown", action="store_true", help="as the README's table")
    settings.add_argument(
        "--update-readme", type=Path, metavar="README", help="rewrite the table in README"
    )
    settings.set_defaults(run=_settings)
    return parser


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


def _upload(args: argparse.Namespace) -> int:
    # Only the address is needed here: dev=True lets this run without a signing key.
    settings = load_settings(dev=True)
    api_key = args.api_key or os.environ.get("PIXGATE_UPLOAD_KEY")
    try:
        data = args.file.read_bytes()
        status, body = asyncio.run(
            upload_file(
                args.base or settings.base_url,
                data,
                args.file.name,
                args.title,
                args.description,
                api_key,
            )
        )
    except (OSError, aiohttp.ClientError) as error:
        print(f"pixgate upload: {error}", file=sys.stderr)
        return 1
    print(json.dumps(body, indent=2))
    return 0 if status < 400 else 1


async def upload_file(
    base_url: str, data: bytes, filename: str, title: str, description: str, api_key: str | None
) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("image", data, filename=filename)
    form.add_field("title", title)
    form.add_field("description", description)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url.rstrip('/')}/api/v1/images", data=form, headers=headers) as reply,
    ):
        return reply.status, await reply.json(content_type=None)


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings(dev=True)
    applied = asyncio.run(migrate(settings.database_url))
    print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    return 0


def _lifecycle(args: argparse.Namespace) -> int:
    settings = load_settings(dev=True)
    try:
        bucket, prefix = originals_target(settings)
        if not args.apply:
            print(f"would set on s3://{bucket} (run with --apply):")
            print(json.dumps(lifecycle_configuration(prefix), indent=2))
            return 0
        print(json.dumps(asyncio.run(apply_lifecycle(settings)), indent=2, default=str))
    except LifecycleError as error:
        print(f"pixgate storage lifecycle: {error}", file=sys.stderr)
        return 1
    return 0


def _reap(args: argparse.Namespace) -> int:
    settings = load_settings(dev=True)
    if args.grace < 0:
        print("pixgate reap: --grace must not be negative", file=sys.stderr)
        return 2
    try:
        reaped = asyncio.run(
            reap_deployment(settings, grace=timedelta(seconds=args.grace), apply=args.apply)
        )
    except (PixgateError, RepositoryError) as error:
        print(f"pixgate reap: {error}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "applied": reaped.applied,
                "orphaned_originals": reaped.orphans,
                "deleted_rows_purged": reaped.purged,
                "orphans_within_grace": reaped.kept_young,
            },
            indent=2,
        )
    )
    return 0


async def reap_deployment(settings: Settings, *, grace: timedelta, apply: bool) -> Reaped:
    """`reap` over the storage and database `settings` name."""
    storage_settings = StorageSettings(
        s3_endpoint_url=settings.s3_endpoint_url,
        timeout_seconds=settings.fetch_timeout,
        max_attempts=settings.fetch_attempts,
    )
    root = parse_storage_url(settings.storage_url)
    roots = (root.key,) if root.scheme == "file" else ()

    def locate(key: str) -> SourceLocation:
        return resolve_source(key, settings.storage_url, settings.allowed_sources)

    async with (
        open_storages([root.scheme], storage_settings, roots) as storages,
        open_repository(
            settings.database_url, pool_size=1, connect_timeout=settings.db_timeout
        ) as repository,
    ):
        return await reap(storages[root.scheme], repository, locate, grace=grace, apply=apply)


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
        _seed_sample(settings)
    asyncio.run(_run(settings))
    return 0


def _seed_sample(settings: Settings) -> None:
    """Put the bundled sample photo into local storage so the printed URLs work."""
    root = parse_storage_url(settings.storage_url)
    if root.scheme != "file":
        return
    target = Path(root.key) / SAMPLE_KEY
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with resources.as_file(resources.files("proxy") / "assets" / "sample.jpg") as sample:
            shutil.copyfile(sample, target)


def example_urls(settings: Settings) -> dict[str, str]:
    builder = settings.url_builder()
    return {
        "original, negotiated format": builder.url(SAMPLE_KEY),
        "800px wide WebP": builder.url(SAMPLE_KEY, width=800, format="webp", quality=80),
        "300x300 smart crop AVIF": builder.url(
            SAMPLE_KEY, width=300, height=300, fit="fill", format="avif", options=["g:sm"]
        ),
        "small (150)": builder.url(SAMPLE_KEY, width=150, height=150, fit="fit"),
        "tiny blurred placeholder": builder.url(
            SAMPLE_KEY, width=32, height=32, fit="fit", quality=40, options=["bl:2"]
        ),
        "srcset": builder.srcset(SAMPLE_KEY, [150, 500, 1200]),
    }


async def _run(settings: Settings) -> None:
    app = create_app(settings)
    runner = web.AppRunner(
        app, access_log=None, max_line_size=MAX_LINE_SIZE, shutdown_timeout=SEND_GRACE_SECONDS
    )
    await runner.setup()
    host, port = settings.bind
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("listening", extra={"url": f"http://{host}:{port}", "storage": settings.storage_url})
    if settings.dev_mode:
        print(f"\npixgate is running on {settings.base_url}  (Ctrl-C stops it)", flush=True)
        if settings.role != "proxy":
            print(f"open {settings.base_url}/ and drop a photo\n", flush=True)
        for label, url in example_urls(settings).items():
            print(f"  {label}:\n    {url}\n", flush=True)
    stop, hurry = asyncio.Event(), asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            hurry.set()  # a second SIGTERM/Ctrl-C: stop waiting for requests in flight
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, on_signal)
    try:
        await stop.wait()
    finally:
        await _drain(runner, site, app[IN_FLIGHT], settings.shutdown_timeout, hurry)


async def _drain(
    runner: web.AppRunner,
    site: web.TCPSite,
    in_flight: InFlight,
    within: float,
    hurry: asyncio.Event,
) -> None:
    """Graceful shutdown: refuse new connections, let the requests in flight finish (up to
    `within` seconds, or until `hurry` is set), give their answers a moment to leave, cut
    off whatever is left, and close the storage and database clients."""
    log.info("shutting down", extra={"in_flight": in_flight.count, "drain_seconds": within})
    await site.stop()
    drained = asyncio.ensure_future(in_flight.drain(within))
    hurried = asyncio.ensure_future(hurry.wait())
    await asyncio.wait((drained, hurried), return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    if not drained.done():
        drained.cancel()
        log.warning("second signal: cutting off requests", extra={"in_flight": in_flight.count})
    elif not drained.result():
        log.warning("shutdown timeout: cutting off requests", extra={"in_flight": in_flight.count})
    await runner.cleanup()
    log.info("stopped")
