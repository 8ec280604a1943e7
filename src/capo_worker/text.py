"""Texts from elsewhere made fit to show and store: one line, and not too long."""

from __future__ import annotations

from typing import Any

from capo_worker.constants import TEXT_LIMIT


def one_line(value: object) -> str:
    """The text of `value` (an exception, a server message) on one line."""
    return " ".join(str(value).split())


def shorten(text: str, limit: int, ending: str = "...") -> str:
    """`text`, or its first `limit` characters followed by `ending`."""
    return text if len(text) <= limit else text[:limit] + ending


def bounded_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """`text`, or its start with a note of its full length when it is longer than `limit`."""
    return shorten(text, limit, f"... [cut: {len(text):,} characters in all]")


def bounded(value: Any, limit: int = TEXT_LIMIT) -> Any:
    """A JSON value with every string longer than `limit` cut by `bounded_text`."""
    if isinstance(value, str):
        return bounded_text(value, limit)
    if isinstance(value, dict):
        return {k: bounded(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [bounded(v, limit) for v in value]
    return value
