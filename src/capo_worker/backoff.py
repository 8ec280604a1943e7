"""Exponential delays with jitter, for retrying database and HTTP steps."""

from __future__ import annotations

import random

MAX_DB_BACKOFF_SECONDS = 30.0


class Backoff:
    """Exponential delay with jitter for retrying database steps."""

    def __init__(self, first: float = 0.5, maximum: float = MAX_DB_BACKOFF_SECONDS) -> None:
        self.first = first
        self.maximum = maximum
        self.current = first

    def next(self) -> float:
        delay = self.current * random.uniform(0.8, 1.2)
        self.current = min(self.current * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self.current = self.first
