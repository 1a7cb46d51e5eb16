"""Shared pytest setup: fixtures from plugin modules under tests/, and the `services` mark.

`make test-fast` runs what is left without the mark: no moto, PostgreSQL, nginx, Chromium or
pixgate process, under a minute.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.s3server", "tests.pgserver"]

# Fixtures that start (or reuse) a service process.
SERVICE_FIXTURES = frozenset(
    {"s3_server", "s3_bucket", "s3_faults", "pg_server", "pg_url", "aws_env"}
)
# Modules whose tests start processes of their own (pixgate, nginx, Chromium, Locust) or run
# long by design (hostile corpora, soak).
SERVICE_MODULES = frozenset(
    {
        "tests/edge/test_edge.py",
        "tests/edge/test_edge_views.py",
        "tests/fuzz/test_fuzz_urls.py",
        "tests/loadtest/test_ingest_bench.py",
        "tests/loadtest/test_loadrun.py",
        "tests/loadtest/test_soak.py",
        "tests/pixgate/test_cli.py",
        "tests/pixgate/test_cli_startup.py",
        "tests/pixgate/test_roles.py",
        "tests/proxy/test_shutdown.py",
        "tests/uploader/analytics/test_crash.py",
        "tests/uploader/analytics/test_follow.py",
        "tests/uploader/test_faults.py",
        "tests/uploader/test_hostile_uploads.py",
        "tests/web/test_pages.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        module = item.path.relative_to(root).as_posix()
        fixtures = set(getattr(item, "fixturenames", ()))
        needs_postgres = "postgresql" in item.name and "repository_url" in fixtures
        if module in SERVICE_MODULES or fixtures & SERVICE_FIXTURES or needs_postgres:
            item.add_marker(pytest.mark.services)
