"""Settings: defaults, validation messages that name the variable, secrets kept out."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import Settings, SettingsError, load_settings
from config.settings import VARIABLES, markdown_table, variable_value

KEYS = {"PIXGATE_KEY": "736563726574", "PIXGATE_SALT": "68656C6C6F"}
README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults() -> None:
    settings = load_settings(KEYS)
    assert settings.bind == ("127.0.0.1", 8080)
    assert settings.signature_size == 32
    assert settings.max_src_bytes == 20 * 1024 * 1024
    assert settings.max_src_pixels == 50_000_000
    assert settings.ttl == 31536000
    assert settings.concurrency >= 1
    assert settings.storage_url.startswith("file:///")
    assert settings.base_url == "http://127.0.0.1:8080"
    assert len(settings.key_pairs) == 1 and not settings.generated_key


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({"PIXGATE_BIND": "8080"}, "PIXGATE_BIND: expected host:port", id="bind"),
        pytest.param({"PIXGATE_BIND": "h:99999"}, "PIXGATE_BIND", id="bind-port"),
        pytest.param({"PIXGATE_SIGNATURE_SIZE": "33"}, "PIXGATE_SIGNATURE_SIZE", id="sig-size"),
        pytest.param({"PIXGATE_MAX_SRC_BYTES": "lots"}, "PIXGATE_MAX_SRC_BYTES", id="bytes"),
        pytest.param({"PIXGATE_CONCURRENCY": "0"}, "PIXGATE_CONCURRENCY", id="concurrency"),
        pytest.param({"PIXGATE_DEV": "maybe"}, "PIXGATE_DEV: expected a boolean", id="dev"),
        pytest.param({"PIXGATE_STORAGE_URL": "ftp://x"}, "PIXGATE_STORAGE_URL", id="storage"),
        pytest.param({"PIXGATE_STORAGE_URL": "s3://"}, "PIXGATE_STORAGE_URL", id="no-bucket"),
        pytest.param({"PIXGATE_ALLOWED_SOURCES": "http://x/"}, "PIXGATE_ALLOWED_SOURCES", id="al"),
        pytest.param({"PIXGATE_S3_ENDPOINT_URL": "moto:5000"}, "PIXGATE_S3_ENDPOINT_URL", id="s3"),
        pytest.param({"PIXGATE_FORMAT_QUALITY": "bmp=3"}, "PIXGATE_FORMAT_QUALITY", id="fq"),
        pytest.param(
            {"PIXGATE_ALLOWED_SOURCES": "s3://bkt/p/, s3://B"},
            "PIXGATE_ALLOWED_SOURCES: 's3://B': invalid S3 bucket name",
            id="allowed-item",
        ),
        pytest.param(
            {"PIXGATE_STORAGE_URL": "file://srv"},
            "PIXGATE_STORAGE_URL: a file URL needs an absolute path",
            id="storage-relative",
        ),
        pytest.param({"PIXGATE_ROLE": "worker"}, "PIXGATE_ROLE: expected all", id="role"),
        pytest.param({"PIXGATE_UPLOAD_RATE": "60"}, "PIXGATE_UPLOAD_RATE", id="rate"),
        pytest.param({"PIXGATE_TRANSFORM_TIMEOUT": "0"}, "PIXGATE_TRANSFORM_TIMEOUT", id="timeout"),
        pytest.param({"PIXGATE_PURGE_URL": "edge:8081"}, "PIXGATE_PURGE_URL", id="purge"),
        pytest.param({"PIXGATE_DATABASE_URL": "mysql://h/db"}, "PIXGATE_DATABASE_URL", id="db"),
        pytest.param({"PIXGATE_API_KEYS": "a:short"}, "PIXGATE_API_KEYS", id="api-keys"),
        pytest.param(
            {"PIXGATE_FORMAT_QUALITY": "webp=best"},
            "PIXGATE_FORMAT_QUALITY: expected auto or an integer from 1 to 100",
            id="fq-value",
        ),
        pytest.param(
            {"PIXGATE_QUALITY": "0"},
            "PIXGATE_QUALITY: expected auto or an integer from 1 to 100, got '0'",
            id="quality",
        ),
        pytest.param(
            {"PIXGATE_QUALITY_TARGET": "99"},
            r"PIXGATE_QUALITY_TARGET: expected a number from 30 to 95 \(an SSIMULACRA2 score\)",
            id="target-high",
        ),
        pytest.param({"PIXGATE_QUALITY_TARGET": "29.9"}, "PIXGATE_QUALITY_TARGET", id="target-low"),
        pytest.param(
            {"PIXGATE_QUALITY_TARGET": "high"}, "PIXGATE_QUALITY_TARGET", id="target-text"
        ),
        pytest.param({"PIXGATE_QUALITY_TARGET": "nan"}, "PIXGATE_QUALITY_TARGET", id="target-nan"),
        pytest.param(
            {"PIXGATE_QUALITY_AUTO_MAX_ENCODES": "0"},
            "PIXGATE_QUALITY_AUTO_MAX_ENCODES: expected an integer of at least 1 and at most 8",
            id="max-encodes",
        ),
        pytest.param({"PIXGATE_KEY": "zz"}, "PIXGATE_KEY", id="bad-hex"),
        pytest.param({"PIXGATE_SALT": "00,11"}, "PIXGATE_KEY/PIXGATE_SALT", id="unpaired"),
        pytest.param({"PIXGATE_LOG_LEVEL": "loud"}, "PIXGATE_LOG_LEVEL", id="log-level"),
        pytest.param(
            {"PIXGATE_STORAGE_PRICES": "STANDARD=0.023"},
            "PIXGATE_STORAGE_PRICES: expected CLASS=price pairs",
            id="prices-missing-class",
        ),
        pytest.param(
            {"PIXGATE_STORAGE_PRICES": "STANDARD=a,STANDARD_IA=1,GLACIER_IR=1"},
            "PIXGATE_STORAGE_PRICES: .*'a' is not a number",
            id="prices-not-a-number",
        ),
        pytest.param(
            {"PIXGATE_STORAGE_PRICES": "STANDARD=1,STANDARD=1,STANDARD_IA=1,GLACIER_IR=1"},
            "PIXGATE_STORAGE_PRICES",
            id="prices-twice",
        ),
        pytest.param(
            {"PIXGATE_STORAGE_PRICES": "STANDARD=-1,STANDARD_IA=1,GLACIER_IR=1"},
            "PIXGATE_STORAGE_PRICES",
            id="prices-negative",
        ),
        pytest.param(
            {"PIXGATE_ANALYTICS_BATCH_LINES": "0"}, "PIXGATE_ANALYTICS_BATCH_LINES", id="batch"
        ),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**KEYS, **env})


@pytest.mark.parametrize(
    ("env", "quality", "format_quality", "target", "max_encodes"),
    [
        pytest.param({}, None, (), 75.0, 3, id="defaults-auto"),
        pytest.param({"PIXGATE_QUALITY": "AUTO"}, None, (), 75.0, 3, id="auto-any-case"),
        pytest.param(
            {"PIXGATE_QUALITY": "70", "PIXGATE_FORMAT_QUALITY": "avif=auto,jpg=60"},
            70,
            (("avif", None), ("jpeg", 60)),
            75.0,
            3,
            id="fixed-and-per-format",
        ),
        pytest.param(
            {"PIXGATE_QUALITY_TARGET": "82.5", "PIXGATE_QUALITY_AUTO_MAX_ENCODES": "1"},
            None,
            (),
            82.5,
            1,
            id="target-and-cap",
        ),
    ],
)
def test_quality_settings(
    env: dict[str, str],
    quality: int | None,
    format_quality: tuple[tuple[str, int | None], ...],
    target: float,
    max_encodes: int,
) -> None:
    settings = load_settings({**KEYS, **env})
    assert settings.quality == quality
    assert settings.format_quality == format_quality
    assert (settings.quality_target, settings.auto_max_encodes) == (target, max_encodes)


def test_storage_prices_default_and_any_order() -> None:
    assert load_settings(KEYS).storage_prices == (
        ("STANDARD", 0.023),
        ("STANDARD_IA", 0.0125),
        ("GLACIER_IR", 0.004),
    )
    env = {"PIXGATE_STORAGE_PRICES": " glacier_ir=0.005, STANDARD=0.025 ,STANDARD_IA=0.0138"}
    assert load_settings({**KEYS, **env}).storage_prices == (
        ("STANDARD", 0.025),
        ("STANDARD_IA", 0.0138),
        ("GLACIER_IR", 0.005),
    )


def test_no_key_refuses_to_start_outside_dev_mode() -> None:
    with pytest.raises(SettingsError, match="no signing key configured"):
        load_settings({})


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(lambda: load_settings({}, dev=True), id="flag"),
        pytest.param(lambda: load_settings({"PIXGATE_DEV": "1"}), id="env"),
    ],
)
def test_dev_mode_generates_a_throwaway_key(settings: object) -> None:
    loaded = settings()  # type: ignore[operator]
    assert loaded.generated_key and loaded.dev_mode and len(loaded.key_pairs) == 1


# (id, variable, a good secret value)
SECRETS = [
    ("key", "PIXGATE_KEY", "abcdef0123"),
    ("salt", "PIXGATE_SALT", "99887766"),
    ("database", "PIXGATE_DATABASE_URL", "postgresql://pixgate:hunter2hunter2@db/pixgate"),
    ("api keys", "PIXGATE_API_KEYS", "app:hunter2hunter2hunter2"),
    ("admin key", "PIXGATE_ADMIN_KEY", "hunter2hunter2admin"),
]


@pytest.mark.parametrize(
    ("name", "value"), [row[1:] for row in SECRETS], ids=[row[0] for row in SECRETS]
)
def test_secrets_never_in_repr(name: str, value: str) -> None:
    env = {"PIXGATE_KEY": "abcdef0123", "PIXGATE_SALT": "99887766", name: value}
    settings = load_settings(env)
    assert value not in repr(settings) and "hunter2" not in repr(settings)


# (id, variable, a bad value holding a secret)
BAD_SECRETS = [
    ("key", "PIXGATE_KEY", "secretzz"),
    ("salt", "PIXGATE_SALT", "secretzz"),
    ("database", "PIXGATE_DATABASE_URL", "mysql://pixgate:secretzz@db/pixgate"),
    ("api keys", "PIXGATE_API_KEYS", "app:secretzz"),
]


@pytest.mark.parametrize(
    ("name", "value"), [row[1:] for row in BAD_SECRETS], ids=[row[0] for row in BAD_SECRETS]
)
def test_secrets_never_in_errors(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name) as error:
        load_settings({**KEYS, name: value})
    assert "secretzz" not in str(error.value)


def test_every_secret_is_a_field_kept_out_of_repr() -> None:
    hidden = {f.name for f in fields(Settings) if not f.repr}
    secret = {variable.field for variable in VARIABLES if variable.secret}
    assert hidden == secret | {"key_pairs"}
    assert {name for _, name, _ in SECRETS} == {v.name for v in VARIABLES if v.secret}


def test_rotation_and_raw_presets() -> None:
    settings = load_settings(
        {
            "PIXGATE_KEY": "aa,736563726574",
            "PIXGATE_SALT": "bb,68656C6C6F",
            "PIXGATE_PRESETS": "thumb=rs:fill:150:150/q:70,default=sm:1",
            "PIXGATE_ALLOWED_SOURCES": "s3://other/public/, file:///srv/img",
            "PIXGATE_BIND": "0.0.0.0:9000",
        }
    )
    assert len(settings.key_pairs) == 2
    assert settings.presets_text == "thumb=rs:fill:150:150/q:70,default=sm:1"  # proxy parses it
    assert settings.allowed_sources == ("s3://other/public/", "file:///srv/img")
    assert settings.storage_schemes == {"file", "s3"}
    assert settings.base_url == "http://127.0.0.1:9000"


def test_every_variable_is_declared_once() -> None:
    names = [variable.name for variable in VARIABLES]
    assert len(names) == len(set(names))
    assert all(name.startswith("PIXGATE_") for name in names)
    derived = {"key_pairs", "generated_key"}
    assert [f.name for f in fields(Settings) if f.name not in derived] == [
        variable.field for variable in VARIABLES
    ]
    readme = README.read_text()
    assert all(readme.count(f"| `{name}` |") == 1 for name in names)


@pytest.mark.parametrize("name", [variable.name for variable in VARIABLES])
def test_every_default_parses(name: str) -> None:
    variable_value(name)


@given(name=st.sampled_from([variable.name for variable in VARIABLES]), text=st.text(max_size=60))
def test_any_value_parses_or_raises_value_error(name: str, text: str) -> None:
    try:
        variable_value(name, {name: text})
    except ValueError as error:
        message = str(error)
    else:
        return
    assert message  # says what was expected


# (id, environment, field, value)
STORAGE_VALUES = [
    ("relative file", {"PIXGATE_STORAGE_URL": "file://./st/"}, "storage_url", "file://{cwd}/st"),
    ("s3 trailing /", {"PIXGATE_STORAGE_URL": " s3://bkt/pre/ "}, "storage_url", "s3://bkt/pre"),
    (
        "allowed as written",
        {"PIXGATE_ALLOWED_SOURCES": "s3://bkt/p/,"},
        "allowed_sources",
        ("s3://bkt/p/",),
    ),
]


@pytest.mark.parametrize(
    ("env", "name", "expected"),
    [row[1:] for row in STORAGE_VALUES],
    ids=[row[0] for row in STORAGE_VALUES],
)
def test_storage_values(env: dict[str, str], name: str, expected: object) -> None:
    if isinstance(expected, str):
        expected = expected.format(cwd=os.getcwd())
    assert getattr(load_settings({**KEYS, **env}), name) == expected


def test_readme_documents_every_variable() -> None:
    assert markdown_table() in README.read_text()


@pytest.mark.parametrize(
    ("name", "overrides", "expected"),
    [
        pytest.param("PIXGATE_WEBP_EFFORT", {}, 2, id="default"),
        pytest.param("PIXGATE_WEBP_EFFORT", {"PIXGATE_WEBP_EFFORT": "5"}, 5, id="override"),
        pytest.param("PIXGATE_VIPS_THREADS", {"PIXGATE_QUALITY": "50"}, 1, id="other-overridden"),
    ],
)
def test_variable_value(name: str, overrides: dict[str, str], expected: object) -> None:
    assert variable_value(name, overrides) == expected


def test_variable_value_refuses_bad_values_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="at most 6"):
        variable_value("PIXGATE_WEBP_EFFORT", {"PIXGATE_WEBP_EFFORT": "9"})
    with pytest.raises(KeyError):
        variable_value("PIXGATE_NO_SUCH_THING")
