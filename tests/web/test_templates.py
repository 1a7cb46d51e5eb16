"""Templates escape what they are given and refuse what they are not given; static files get
names from their bytes."""

from __future__ import annotations

import hashlib
from typing import Any

import jinja2
import pytest
from markupsafe import Markup
from pixgate_signing import UrlBuilder

from tests.web.test_imageview import record
from uploader.web import imageview
from uploader.web.static import StaticFiles, hashed_name
from uploader.web.templates import page_templates

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def templates() -> jinja2.Environment:
    return page_templates(StaticFiles.load())


def image_values(**changes: Any) -> dict[str, Any]:
    image = record(**changes)
    return imageview.page_values(UrlBuilder("https://img.example.com", b"key", b"salt"), image)


def test_values_are_escaped_unless_already_markup(templates: jinja2.Environment) -> None:
    template = templates.from_string('<p title="{{ title }}">{{ body }}</p>{{ fragment }}')
    rendered = template.render(title='"><script>', body="a & b", fragment=Markup("<br>"))
    assert rendered == '<p title="&quot;&gt;&lt;script&gt;">a &amp; b</p><br>'
    with pytest.raises(jinja2.UndefinedError):
        template.render(title="x", body="y")


def test_every_packaged_template_loads(templates: jinja2.Environment) -> None:
    names = templates.list_templates()
    assert {"base.html", "upload.html", "image.html", "not-found.html"} <= set(names)
    for name in names:
        templates.get_template(name)
    assert "Image not found" in templates.get_template("not-found.html").render()


def test_image_page_escapes_hostile_title_and_exif(templates: jinja2.Environment) -> None:
    title = f'Say "cheese" {HOSTILE}'
    values = image_values(
        title=title,
        description=HOSTILE,
        exif={"camera_model": HOSTILE, "lens": '" onmouseover="alert(1)'},
    )
    text = templates.get_template("image.html").render(values)
    assert HOSTILE not in text and 'onmouseover="' not in text
    escaped_title = "Say &quot;cheese&quot; &lt;script&gt;alert(1)&lt;/script&gt;"
    assert f'alt="{escaped_title}"' in text
    assert f'<meta property="og:title" content="{escaped_title}">' in text
    assert f"<title>{escaped_title} · pixgate</title>" in text
    assert f"<h1>{escaped_title}</h1>" in text
    assert '<p class="description">&lt;script&gt;alert(1)&lt;/script&gt;</p>' in text
    assert '<th scope="row">Camera</th><td>&lt;script&gt;alert(1)&lt;/script&gt;</td>' in text
    assert '<th scope="row">Lens</th><td>&quot; onmouseover=&quot;alert(1)</td>' in text
    # The HTML embed snippet is text in a textarea: escaped once for itself, once for the page.
    assert "alt=&quot;Say &amp;quot;cheese&amp;quot; &amp;lt;script&amp;gt;" in text


def test_image_page_needs_every_value(templates: jinja2.Environment) -> None:
    template = templates.get_template("image.html")
    values = image_values(description="d", exif={"iso": 100})
    template.render(values)
    for name in values:
        missing = {key: value for key, value in values.items() if key != name}
        with pytest.raises(jinja2.UndefinedError, match=name):
            template.render(missing)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("{{ nothing }}", id="output"),
        pytest.param("{% if nothing %}x{% endif %}", id="condition"),
        pytest.param("{% for row in nothing %}x{% endfor %}", id="loop"),
        pytest.param("{{ record.widht }}", id="attribute"),
    ],
)
def test_a_missing_value_raises(templates: jinja2.Environment, source: str) -> None:
    with pytest.raises(jinja2.UndefinedError):
        templates.from_string(source).render(record=record())


def test_static_names_carry_the_hash_of_the_bytes() -> None:
    digest = hashlib.sha256(b"body{}").hexdigest()[:12]
    assert hashed_name("app.css", b"body{}") == f"app.{digest}.css"
    files = StaticFiles({"app.css": b"body{}", "app.js": b""})
    assert files.url("app.css") == f"/static/app.{digest}.css"
    found = files.get(f"app.{digest}.css")
    assert found is not None and found.content_type == "text/css" and found.body == b"body{}"
    assert files.get("app.css") is None
