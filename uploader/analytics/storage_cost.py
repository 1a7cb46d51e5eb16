"""The storage cost of the originals: bytes by age against the lifecycle rule's storage
classes (`uploader.lifecycle.TRANSITIONS`), times a price table (PIXGATE_STORAGE_PRICES).

Originals younger than the first transition are in STANDARD, then each class from its age
on. Standard-IA and Glacier Instant Retrieval bill an object smaller than 128 KiB as 128 KiB,
so their bytes are counted that way. A GB-month is 2^30 bytes for a month, as S3 bills it.
The figure is what the originals cost per month if the rule is in place (`pixgate storage
lifecycle --apply`); requests and retrievals are not in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from uploader.analytics.store import AnalyticsStore
from uploader.lifecycle import TRANSITIONS

__all__ = ["STORAGE_CLASSES", "ClassCost", "StorageCost", "storage_cost"]

GIB = 1024**3
FIRST_CLASS = "STANDARD"
# (storage class, age in days from which an original is in it)
STORAGE_CLASSES: tuple[tuple[str, int], ...] = (
    (FIRST_CLASS, 0),
    *((storage_class, days) for days, storage_class in TRANSITIONS),
)
_MINIMUM_SIZE_CLASSES = frozenset({"STANDARD_IA", "GLACIER_IR"})


@dataclass(frozen=True, slots=True)
class ClassCost:
    storage_class: str
    from_days: int
    images: int
    bytes: int
    billed_bytes: int
    usd_per_gb_month: float
    usd_per_month: float


@dataclass(frozen=True, slots=True)
class StorageCost:
    classes: tuple[ClassCost, ...]
    images: int
    bytes: int
    usd_per_month: float
    usd_per_image_month: float  # 0 when there are no images


def storage_cost(store: AnalyticsStore, prices: Mapping[str, float], now: datetime) -> StorageCost:
    """What the live originals cost per month at `prices` (USD per GB-month by class)."""
    bands = {
        band.band: band
        for band in store.storage_by_age(now, [days for _, days in STORAGE_CLASSES[1:]])
    }
    classes = []
    for index, (storage_class, from_days) in enumerate(STORAGE_CLASSES):
        band = bands.get(index)
        images = band.images if band else 0
        size = band.bytes if band else 0
        billed = (
            (band.billable_bytes if storage_class in _MINIMUM_SIZE_CLASSES else size) if band else 0
        )
        price = prices[storage_class]
        classes.append(
            ClassCost(storage_class, from_days, images, size, billed, price, billed / GIB * price)
        )
    images = sum(c.images for c in classes)
    monthly = sum(c.usd_per_month for c in classes)
    return StorageCost(
        classes=tuple(classes),
        images=images,
        bytes=sum(c.bytes for c in classes),
        usd_per_month=monthly,
        usd_per_image_month=monthly / images if images else 0.0,
    )
