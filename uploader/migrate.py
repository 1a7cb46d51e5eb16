"""Versioned schema migrations: ``uploader/migrations/<dialect>/NNNN_name.sql``, applied in
order, each in its own transaction, each recorded in ``schema_migrations(version,
applied_at)``. Running it again applies nothing; concurrent runs (several app processes
starting at once) queue on a lock, so each file runs once.
"""

from __future__ import annotations

import re
from importlib import resources

from uploader.db import Migration
from uploader.repository import backend_for

__all__ = ["load_migrations", "migrate"]

_FILE_NAME = re.compile(r"(?P<version>\d{4}_[a-z0-9_]+)\.sql")


async def migrate(url: str, *, connect_timeout: float = 10.0) -> list[str]:
    """Bring the database at `url` up to date; return the versions applied now, in order.

    ValueError for an unknown scheme or a malformed URL; RepositoryUnavailable if the
    database cannot be reached within `connect_timeout` seconds (or is locked that long); another
    RepositoryError if a migration fails (its transaction is rolled back).
    """
    backend = backend_for(url)
    return await backend.apply_migrations(url, load_migrations(backend.dialect), connect_timeout)


def load_migrations(dialect: str) -> list[Migration]:
    """The migrations shipped for `dialect`, in version order."""
    folder = resources.files("uploader").joinpath("migrations", dialect)
    migrations = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise RuntimeError(f"migration file name is not NNNN_name.sql: {entry.name}")
        migrations.append(Migration(match["version"], entry.read_text(encoding="utf-8")))
    if not migrations:
        raise RuntimeError(f"no migrations shipped for {dialect!r}")
    return sorted(migrations, key=lambda migration: migration.version)
