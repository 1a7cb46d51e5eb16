"""Shared pytest setup: fixtures from plugin modules under tests/."""

pytest_plugins = ["tests.s3server", "tests.pgserver"]
