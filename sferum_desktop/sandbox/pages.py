"""HTML pages of the sandbox: `templates/*.html` filled with escaped values (no Jinja)."""

from __future__ import annotations

import functools
import html
from pathlib import Path
from string import Template

from fastapi.responses import HTMLResponse

_TEMPLATES = Path(__file__).with_name("templates")


class Markup(str):
    """HTML that is already safe to insert as is."""


@functools.cache
def _template(name: str) -> Template:
    return Template((_TEMPLATES / name).read_text(encoding="utf-8"))


def render(name: str, **values: str | None) -> Markup:
    """Template `name` with `values` HTML-escaped, except those that are `Markup`."""
    safe = {
        key: value if isinstance(value, Markup) else html.escape(value or "")
        for key, value in values.items()
    }
    return Markup(_template(name).substitute(safe))


def error_block(message: str | None) -> Markup:
    """The red message box above a form, or nothing."""
    if not message:
        return Markup("")
    return Markup(f'<div class="error" role="alert">{html.escape(message)}</div>')


def page(layout: str, title: str, content: Markup, status_code: int = 200) -> HTMLResponse:
    """A whole page: `content` inside `layout` (`gosuslugi.html` or `esh.html`)."""
    return HTMLResponse(render(layout, title=title, content=content), status_code=status_code)
