"""The Jinja2 environment of the pages, with the filters the templates use."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")


def time_tag(value: dt.datetime | None, empty: str = "N/A") -> Markup:
    """UTC on the server; the page's script rewrites it in the reader's time zone."""
    if value is None:
        return Markup(escape(empty))
    utc = value.astimezone(dt.UTC)
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M:%S"), utc.strftime("%H:%M:%S")
    )


def number(value: Any, places: int = 1) -> str:
    """Whole numbers as they are; decimals with `places` decimals (one, unless told)."""
    if value is None:
        return "-"
    if isinstance(value, (Decimal, float)):
        return f"{float(value):.{places}f}"
    return str(value)


def sort_value(value: Any) -> str:
    """What the table sorter compares (numbers as plain decimals, '' for missing)."""
    if value is None:
        return ""
    return str(value)


def date_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%d %b %Y")
    if isinstance(value, dt.date):
        return value.strftime("%d %b %Y")
    return str(value)


async def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A page rendered in a worker thread: the event loop (and a worker sharing the
    process) keeps running while a big page is templated."""
    template = templates.get_template(name)
    html = await asyncio.to_thread(template.render, {"request": request, **context})
    return HTMLResponse(html, status_code=status_code)


def query(base: dict[str, Any], **changes: Any) -> str:
    """A link's query string: `base` with `changes`, leaving out empty values."""
    values = {**base, **changes}
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


templates.env.globals["query"] = query
templates.env.filters["time_tag"] = time_tag
templates.env.filters["number"] = number
templates.env.filters["sort_value"] = sort_value
templates.env.filters["date_text"] = date_text
