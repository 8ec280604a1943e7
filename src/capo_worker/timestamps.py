"""Timestamps as the reference writes them into job payloads and results."""

from __future__ import annotations

import datetime as dt
from typing import Literal


def iso_utc(
    moment: dt.datetime | None = None,
    *,
    timespec: Literal["milliseconds", "seconds"] = "milliseconds",
) -> str:
    """ISO-8601 in UTC with a Z, e.g. 2026-11-28T18:49:05.123Z; default now.

    `timespec="seconds"` for whole-second moments such as cron slots.
    """
    moment = (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")
