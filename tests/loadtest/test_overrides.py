"""--set for the benchmarks: which settings a run may change, and the server configuration
the proxy benchmark's bare loop copies from them."""

from __future__ import annotations

import pytest

from loadtest.bench_run import ServerConfig
from loadtest.overrides import parse_overrides


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        pytest.param({"PIXGATE_KEY": "00"}, "PIXGATE_KEY: not a PIXGATE_", id="own-variable"),
        pytest.param({"PIXGATE_NOPE": "1"}, "PIXGATE_NOPE: not a PIXGATE_", id="unknown"),
        pytest.param({"VIPS_CONCURRENCY": "1"}, "VIPS_CONCURRENCY", id="no-environment-here"),
        pytest.param({"PIXGATE_WEBP_EFFORT": "9"}, "PIXGATE_WEBP_EFFORT: expected", id="bad"),
    ],
)
def test_refused(pairs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_overrides(pairs)


def test_environment_by_prefix() -> None:
    pairs = {"PIXGATE_CONCURRENCY": "3", "MALLOC_ARENA_MAX": "2"}
    assert parse_overrides(pairs, environment_prefixes=("MALLOC_",)) == (
        {"PIXGATE_CONCURRENCY": "3"},
        {"MALLOC_ARENA_MAX": "2"},
    )


def test_the_proxy_benchmark_keeps_its_own_s3_endpoint() -> None:
    with pytest.raises(ValueError, match="PIXGATE_S3_ENDPOINT_URL"):
        ServerConfig.from_settings({"PIXGATE_S3_ENDPOINT_URL": "http://127.0.0.1:1"})


def test_server_config_from_settings() -> None:
    config = ServerConfig.from_settings({"PIXGATE_WEBP_EFFORT": "4", "PIXGATE_CONCURRENCY": "3"})
    assert (config.concurrency, config.webp_effort) == (3, 4)
    assert config.efforts["webp"] == 4
    assert config.overrides == (("PIXGATE_CONCURRENCY", "3"), ("PIXGATE_WEBP_EFFORT", "4"))
