"""HTML templates: `string.Template` files whose values are escaped unless marked safe."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from importlib import resources
from string import Template


class Html(str):
    """Markup that is safe as it is: a rendered template. Anything else is escaped."""

    __slots__ = ()


EMPTY = Html("")


def escape(value: str | int) -> Html:
    """`value` as HTML text, safe in element content and in quoted attributes."""
    return Html(html.escape(str(value), quote=True))


class Templates:
    """The page templates of `uploader/web/templates`, read once at start-up."""

    def __init__(self, templates: Mapping[str, Template]) -> None:
        self._templates = dict(templates)

    @classmethod
    def load(cls) -> Templates:
        folder = resources.files("uploader.web").joinpath("templates")
        return cls(
            {
                entry.name.removesuffix(".html"): Template(entry.read_text("utf-8"))
                for entry in folder.iterdir()
                if entry.name.endswith(".html")
            }
        )

    def render(self, name: str, /, **values: str | int) -> Html:
        """Fill template `name`: `Html` values go in as they are, the rest escaped. A
        missing value is a KeyError, so a template and its caller cannot drift apart."""
        filled = {
            key: value if isinstance(value, Html) else escape(value)
            for key, value in values.items()
        }
        return Html(self._templates[name].substitute(filled))

    def join(self, name: str, rows: Sequence[Mapping[str, str | int]], /) -> Html:
        """Template `name` rendered once per row, concatenated."""
        return Html("".join(self.render(name, **row) for row in rows))
