"""The uploader's commands: `upload`, `migrate`, `storage lifecycle`, `reap`,
`backfill-placeholders` and `analytics`. The root (`pixgate.cli`) registers them beside
`serve` and the proxy's commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from config import Settings, load_settings
from config.storage_url import parse_storage_url
from proxy.errors import PixgateError
from proxy.sources import resolve_source
from proxy.storage import open_storages
from proxy.storage.base import SourceLocation, Storage, StorageSettings
from uploader.analytics import cli as analytics_cli
from uploader.backfill import DEFAULT_BATCH, Backfilled, backfill_placeholders
from uploader.inspect import inspect_upload
from uploader.lifecycle import (
    LifecycleError,
    apply_lifecycle,
    lifecycle_configuration,
    originals_target,
)
from uploader.migrate import migrate
from uploader.placeholder import Placeholder
from uploader.reaper import DEFAULT_GRACE, Reaped, reap
from uploader.repository import ImageRepository, RepositoryError, open_repository


def register(commands: Any) -> None:
    """Add the uploader's sub-commands to `commands` (an argparse sub-parsers action)."""
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

    backfill = commands.add_parser(
        "backfill-placeholders",
        help="compute the ThumbHash and dominant colour of images uploaded without them",
    )
    backfill.add_argument(
        "--batch", type=int, default=DEFAULT_BATCH, help="rows per batch (default: %(default)s)"
    )
    backfill.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="originals read and inspected at once (default: the cores, %(default)s)",
    )
    backfill.add_argument(
        "--dry-run", action="store_true", help="only count the rows without a placeholder"
    )
    backfill.set_defaults(run=_backfill)

    analytics_cli.register(commands)


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
    async with _deployment(settings) as deployment:
        return await reap(
            deployment.storage, deployment.repository, deployment.locate, grace=grace, apply=apply
        )


def _backfill(args: argparse.Namespace) -> int:
    settings = load_settings(dev=True)
    if args.batch < 1 or args.concurrency < 1:
        print(
            "pixgate backfill-placeholders: --batch and --concurrency are at least 1",
            file=sys.stderr,
        )
        return 2
    try:
        done = asyncio.run(
            backfill_deployment(
                settings,
                batch_size=args.batch,
                concurrency=args.concurrency,
                apply=not args.dry_run,
            )
        )
    except (PixgateError, RepositoryError) as error:
        print(f"pixgate backfill-placeholders: {error}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "applied": done.applied,
                "filled": done.filled,
                "without_placeholder": done.pending,
                "already_set": done.already_set,
                "missing_originals": done.missing,
                "unreadable_originals": done.failed,
                "batches": done.batches,
            },
            indent=2,
        )
    )
    return 0 if not (done.missing or done.failed) else 1


async def backfill_deployment(
    settings: Settings, *, batch_size: int = DEFAULT_BATCH, concurrency: int = 2, apply: bool = True
) -> Backfilled:
    """`backfill_placeholders` over the storage and database `settings` name, inspecting
    originals with the upload's limits on `concurrency` threads."""
    with ThreadPoolExecutor(concurrency, thread_name_prefix="pixgate-backfill") as executor:

        def inspect(data: bytes) -> Placeholder | None:
            return inspect_upload(
                data,
                max_pixels=settings.max_src_pixels,
                keep_gps=False,  # rows stored before the animation limits are not refused now
            ).placeholder

        async def placeholder_of(data: bytes) -> Placeholder | None:
            return await asyncio.get_running_loop().run_in_executor(executor, inspect, data)

        async with _deployment(settings) as deployment:
            return await backfill_placeholders(
                deployment.storage,
                deployment.repository,
                deployment.locate,
                placeholder_of,
                max_bytes=settings.max_src_bytes,
                batch_size=batch_size,
                concurrency=concurrency,
                apply=apply,
            )


@dataclass(frozen=True, slots=True)
class _Deployment:
    storage: Storage
    repository: ImageRepository
    locate: Callable[[str], SourceLocation]


@contextlib.asynccontextmanager
async def _deployment(settings: Settings) -> AsyncIterator[_Deployment]:
    """The storage and the metadata database that `settings` name, opened for a command."""
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
        yield _Deployment(storages[root.scheme], repository, locate)
