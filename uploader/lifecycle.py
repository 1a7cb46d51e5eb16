"""S3 lifecycle for originals: cheaper storage classes as images age.

Originals move to STANDARD_IA after 90 days and to GLACIER_IR after 365. Glacier
*Instant Retrieval* is the archive class chosen because originals must stay readable in
milliseconds: the proxy renders variants from them whenever a CDN misses.
"""

from __future__ import annotations

from typing import Any

from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from config import Settings
from config.storage_url import parse_storage_url
from proxy.storage.base import StorageSettings
from proxy.storage.s3 import client_config

RULE_ID = "pixgate-originals-tiering"
TRANSITIONS = ((90, "STANDARD_IA"), (365, "GLACIER_IR"))


class LifecycleError(Exception):
    """The rule could not be read or written; the message says why, without secrets."""


def lifecycle_configuration(prefix: str) -> dict[str, Any]:
    """The rule for originals under `prefix` (``originals/`` below the storage prefix)."""
    return {
        "Rules": [
            {
                "ID": RULE_ID,
                "Filter": {"Prefix": prefix},
                "Status": "Enabled",
                "Transitions": [
                    {"Days": days, "StorageClass": storage_class}
                    for days, storage_class in TRANSITIONS
                ],
            }
        ]
    }


def originals_target(settings: Settings) -> tuple[str, str]:
    """(bucket, prefix of originals) of the configured S3 storage."""
    root = parse_storage_url(settings.storage_url)
    if root.scheme != "s3":
        raise LifecycleError(
            "PIXGATE_STORAGE_URL is not s3://...; lifecycle rules apply to S3 storage only"
        )
    prefix = f"{root.key.strip('/')}/originals/" if root.key.strip("/") else "originals/"
    return root.bucket, prefix


async def apply_lifecycle(settings: Settings) -> dict[str, Any]:
    """Put the rule on the bucket, then read back and return what the bucket holds."""
    bucket, prefix = originals_target(settings)
    storage_settings = StorageSettings(
        s3_endpoint_url=settings.s3_endpoint_url,
        timeout_seconds=settings.fetch_timeout,
        max_attempts=settings.fetch_attempts,
    )
    session = get_session()
    try:
        async with session.create_client(
            "s3", endpoint_url=settings.s3_endpoint_url, config=client_config(storage_settings)
        ) as client:
            await client.put_bucket_lifecycle_configuration(
                Bucket=bucket,
                LifecycleConfiguration=lifecycle_configuration(prefix),  # type: ignore[arg-type]
            )
            current = await client.get_bucket_lifecycle_configuration(Bucket=bucket)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "unknown")
        raise LifecycleError(f"S3 refused the lifecycle rule ({code})") from None
    except BotoCoreError as error:
        raise LifecycleError(f"S3 could not be reached ({type(error).__name__})") from None
    return {"Bucket": bucket, "Rules": current.get("Rules", [])}
