"""The signing library stays light: itsdangerous only, no server modules pulled in."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires


def test_depends_on_itsdangerous_only() -> None:
    assert [r.split(">")[0].split("=")[0] for r in requires("pixgate-signing") or []] == [
        "itsdangerous"
    ]


def test_import_loads_no_server_module() -> None:
    probe = (
        "import sys, pixgate_signing;"
        "heavy = {'aiohttp', 'pyvips', 'aiobotocore', 'botocore', 'proxy', 'config', 'uploader'};"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
