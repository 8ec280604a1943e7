"""The Jinja2 environment of the pages, with the filters the templates use."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

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


def number(value: Any, places: int | None = None) -> str:
    if value is None:
        return "-"
    if isinstance(value, (Decimal, float)):
        if places is not None:
            return f"{float(value):.{places}f}"
        as_decimal = Decimal(str(value))
        if as_decimal == as_decimal.to_integral():
            return str(as_decimal.quantize(Decimal(1)))  # 160.00 -> 160
        return str(value)
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


templates.env.filters["time_tag"] = time_tag
templates.env.filters["number"] = number
templates.env.filters["sort_value"] = sort_value
templates.env.filters["date_text"] = date_text
