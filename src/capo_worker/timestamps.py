"""Timestamps as the reference writes them into job payloads and results."""

from __future__ import annotations

import datetime as dt


def iso_utc_ms(moment: dt.datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and a Z, e.g. 2026-11-28T18:49:05.123Z; default now."""
    moment = (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
