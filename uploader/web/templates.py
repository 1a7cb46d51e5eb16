"""The page templates: one Jinja2 environment over `uploader/web/templates`, built at start-up.

Every value is HTML-escaped unless it is already markup (a macro's output), and a name the
caller did not pass is an error, never an empty string.
"""

from __future__ import annotations

import html
from typing import Any

import jinja2
from markupsafe import Markup

from uploader.web.static import StaticFiles


def page_templates(static: StaticFiles) -> jinja2.Environment:
    """The environment the pages render with; templates link static files by plain name
    (``static_url('app.css')``) and get the hashed URL."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("uploader.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_escape,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.globals["static_url"] = static.url
    return environment


def _escape(value: Any) -> Any:
    # html.escape spells a quote &quot; (markupsafe: &#34;): pages read as they did before.
    if hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))
