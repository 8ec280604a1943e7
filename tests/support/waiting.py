"""Waiting for a state, with a deadline only against hanging (never a speed assertion)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    step: float = 0.1,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll `condition` until it returns something truthy, and return that.

    On timeout, `explain` (when given) describes the state the wait ended in, so that a
    failure far from the developer's machine (CI) says what was stuck."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    message = f"timed out after {timeout:.0f}s waiting for {what}"
    if explain is not None:
        message += "\n" + explain()
    raise AssertionError(message)
