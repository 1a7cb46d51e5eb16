"""Templates escape what they are given; static files get names from their bytes."""

from __future__ import annotations

import hashlib
from string import Template

import pytest

from uploader.web.static import StaticFiles, hashed_name
from uploader.web.templates import Html, Templates


def test_values_are_escaped_unless_already_html() -> None:
    templates = Templates({"t": Template('<p title="$title">$body</p>$fragment')})
    rendered = templates.render("t", title='"><script>', body="a & b", fragment=Html("<br>"))
    assert rendered == '<p title="&quot;&gt;&lt;script&gt;">a &amp; b</p><br>'
    assert isinstance(rendered, Html)
    with pytest.raises(KeyError):
        templates.render("t", title="x", body="y")


def test_every_packaged_template_loads() -> None:
    templates = Templates.load()
    assert "Image not found" in templates.render("not-found")


def test_static_names_carry_the_hash_of_the_bytes() -> None:
    digest = hashlib.sha256(b"body{}").hexdigest()[:12]
    assert hashed_name("app.css", b"body{}") == f"app.{digest}.css"
    files = StaticFiles({"app.css": b"body{}", "app.js": b""})
    assert files.url("app.css") == f"/static/app.{digest}.css"
    found = files.get(f"app.{digest}.css")
    assert found is not None and found.content_type == "text/css" and found.body == b"body{}"
    assert files.get("app.css") is None
