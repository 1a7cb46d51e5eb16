"""pytest fixtures over a throwaway PostgreSQL cluster (``loadtest.harness.pgserver``).

pytest loads them with ``pytest_plugins = ["tests.pgserver"]``: `pg_server` (session: one
cluster, started on first use), `pg_url` (function: a fresh database, dropped after the test)
and `repository_url` (function, parametrized ``sqlite`` and ``postgresql``: an empty database
of each kind, for tests that must hold on both).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.harness.pgserver import (
    PostgresServer,
    create_database,
    drop_database,
    run_postgres,
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with run_postgres() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database, dropped after the test."""
    name = f"test_{uuid.uuid4().hex}"
    create_database(pg_server.url, name)
    yield pg_server.database_url(name)
    drop_database(pg_server.url, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def repository_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file under tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return "sqlite" + (tmp_path / "images.db").as_uri().removeprefix("file")
    url: str = request.getfixturevalue("pg_url")
    return url
