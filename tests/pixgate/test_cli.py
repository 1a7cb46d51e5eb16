"""The `pixgate` command: sign, keygen, settings, and `serve --dev` end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pyvips

from config import SettingsError, load_settings
from loadtest.harness import imagegen
from loadtest.harness.ports import free_port
from loadtest.harness.s3server import MotoServer, s3_client
from pixgate.app import create_app
from pixgate.cli import main

KEYS = {"PIXGATE_KEY": "736563726574", "PIXGATE_SALT": "68656C6C6F"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PIXGATE_"):
            monkeypatch.delenv(name)
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(
            [
                "sign",
                "originals/cat.jpg",
                "--width",
                "300",
                "--format",
                "webp",
                "--base",
                "https://i.x",
            ],
            r"^https://i\.x/[A-Za-z0-9_-]{43}/w:300/plain/originals/cat\.jpg@webp$",
            id="width-format",
        ),
        pytest.param(
            ["sign", "originals/cat.jpg", "--width", "9", "--height", "9", "--fit", "fill", "g:sm"],
            r"^http://127\.0\.0\.1:8080/[A-Za-z0-9_-]{43}/rs:fill:9:9/g:sm/plain/originals/cat\.jpg$",
            id="fill-with-option",
        ),
    ],
)
def test_sign(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    assert main(argv) == 0
    assert re.match(expected, capsys.readouterr().out.strip())


@pytest.mark.usefixtures("env")
def test_sign_rejects_bad_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sign", "originals/cat.jpg", "nocolon"]) == 2
    assert "option segment" in capsys.readouterr().err


def test_sign_without_key_names_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIXGATE_KEY", raising=False)
    monkeypatch.delenv("PIXGATE_SALT", raising=False)
    assert main(["sign", "x.jpg"]) == 2
    assert "PIXGATE_KEY" in capsys.readouterr().err


def test_keygen(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen"]) == 0
    lines = capsys.readouterr().out.split()
    assert re.fullmatch(r"PIXGATE_KEY=[0-9a-f]{64}", lines[0])
    assert re.fullmatch(r"PIXGATE_SALT=[0-9a-f]{32}", lines[1])


def test_settings_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "--markdown"]) == 0
    assert "| `PIXGATE_STORAGE_URL` |" in capsys.readouterr().out


@pytest.mark.parametrize("role", ["all", "proxy", "uploader"])
def test_bad_presets_stop_create_app(role: str) -> None:
    settings = load_settings({**KEYS, "PIXGATE_ROLE": role, "PIXGATE_PRESETS": "thumb=nope:1"})
    with pytest.raises(SettingsError, match=r"^PIXGATE_PRESETS: preset 'thumb': unknown option"):
        create_app(settings)


def test_bad_presets_stop_serve_naming_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXGATE_")}
    env.update(
        KEYS,
        PIXGATE_BIND=f"127.0.0.1:{free_port()}",
        PIXGATE_STORAGE_URL=f"file://{tmp_path}/storage",
        PIXGATE_DATABASE_URL=f"sqlite:///{tmp_path}/pixgate.db",
        PIXGATE_PRESETS="thumb=w:1,wide=w:x",
    )
    done = subprocess.run(
        [*PIXGATE_COMMAND, "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "pixgate: configuration error: PIXGATE_PRESETS: preset 'wide'" in done.stderr


@dataclass(frozen=True, slots=True)
class DevServer:
    """`pixgate serve --dev` as `make run` starts it, in a temporary folder."""

    process: subprocess.Popen[str]
    env: dict[str, str]
    port: int
    urls: list[str]  # the example URLs it printed


PIXGATE_COMMAND = [sys.executable, "-c", "from pixgate.cli import main; raise SystemExit(main())"]


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[DevServer]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXGATE_")}
    env.update(
        PIXGATE_BIND=f"127.0.0.1:{port}",
        PIXGATE_STORAGE_URL=f"file://{tmp_path}/storage",
        PIXGATE_DATABASE_URL=f"sqlite:///{tmp_path}/pixgate.db",
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [*PIXGATE_COMMAND, "serve", "--dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield DevServer(process, env, port, _read_urls(process, time.monotonic() + 60))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)


def test_serve_dev_prints_working_urls(dev_server: DevServer) -> None:
    """What `make run` does: a fresh storage dir, a throwaway key, URLs that answer."""
    urls = dev_server.urls
    assert len(urls) >= 5
    for url in urls:
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            image = pyvips.Image.new_from_buffer(response.read(), "")
            assert image.width > 0
    with urllib.request.urlopen(urls[1], timeout=30) as response:  # 800px WebP
        assert response.headers["Content-Type"] == "image/webp"
        assert pyvips.Image.new_from_buffer(response.read(), "").width == 800
    dev_server.process.send_signal(signal.SIGTERM)
    _, stderr = dev_server.process.communicate(timeout=30)
    assert "THROWAWAY signing key" in stderr
    assert dev_server.process.returncode == 0


def test_dev_server_upload_metadata_delete(dev_server: DevServer, tmp_path: Path) -> None:
    """The README's first steps: `make run`, then upload with the CLI, view, delete."""
    env, port, command = dev_server.env, dev_server.port, PIXGATE_COMMAND
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(imagegen.camera_jpeg(800, 600))
    uploaded = subprocess.run(
        [*command, "upload", str(photo), "--title", "first"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body = json.loads(uploaded.stdout)
    assert body["metadata"]["width"] == 800
    with urllib.request.urlopen(body["urls"]["small"], timeout=30) as response:
        assert pyvips.Image.new_from_buffer(response.read(), "").width == 150
    base = f"http://127.0.0.1:{port}/api/v1/images/{body['image_id']}"
    with urllib.request.urlopen(base + "/metadata", timeout=30) as response:
        assert json.loads(response.read())["exif"]["camera_model"] == "Synthetic One"
    delete = urllib.request.Request(
        base, method="DELETE", headers={"X-Delete-Token": body["delete_token"]}
    )
    with urllib.request.urlopen(delete, timeout=30) as response:
        assert response.status == 204
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(body["urls"]["small"], timeout=30)
    assert gone.value.code == 404
    gone.value.close()
    assert (tmp_path / "pixgate.db").exists()


def test_migrate_command(
    tmp_path: Path, env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXGATE_DATABASE_URL", f"sqlite:///{tmp_path}/m.db")
    assert main(["migrate"]) == 0
    assert "0001_create_images" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_storage_lifecycle(
    env: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    s3_server: MotoServer,
    s3_bucket: str,
) -> None:
    monkeypatch.setenv("PIXGATE_STORAGE_URL", f"s3://{s3_bucket}/media")
    monkeypatch.setenv("PIXGATE_S3_ENDPOINT_URL", s3_server.endpoint_url)
    assert main(["storage", "lifecycle"]) == 0
    assert "would set" in capsys.readouterr().out
    assert main(["storage", "lifecycle", "--apply"]) == 0
    capsys.readouterr()
    rules = s3_client(s3_server.endpoint_url).get_bucket_lifecycle_configuration(Bucket=s3_bucket)[
        "Rules"
    ]
    assert rules[0]["Filter"]["Prefix"] == "media/originals/"
    assert [(t["Days"], t["StorageClass"]) for t in rules[0]["Transitions"]] == [
        (90, "STANDARD_IA"),
        (365, "GLACIER_IR"),
    ]


def test_storage_lifecycle_needs_s3(
    env: None, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXGATE_STORAGE_URL", f"file://{tmp_path}")
    assert main(["storage", "lifecycle", "--apply"]) == 1
    assert "S3 storage only" in capsys.readouterr().err


def _read_urls(server: subprocess.Popen[str], deadline: float) -> list[str]:
    assert server.stdout is not None
    urls: list[str] = []
    for line in server.stdout:
        urls += re.findall(r"http://127\.0\.0\.1:\d+/\S+", line)
        if "srcset" in line or time.monotonic() > deadline:
            break
    srcset_line = server.stdout.readline()
    urls += [u for u in re.findall(r"http://127\.0\.0\.1:\d+/\S+", srcset_line)]
    return [u.rstrip(",") for u in urls]
