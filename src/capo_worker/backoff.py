"""Exponential delays with jitter, for retrying database and HTTP steps."""

from __future__ import annotations

import random

from capo_worker.constants import MAX_RECONNECT_BACKOFF_SECONDS


class Backoff:
    """Exponential delay with jitter for retrying database steps."""

    def __init__(self, first: float = 0.5, maximum: float = MAX_RECONNECT_BACKOFF_SECONDS) -> None:
        self.first = first
        self.maximum = maximum
        self.current = first

    def next(self) -> float:
        delay = self.current * random.uniform(0.8, 1.2)
        self.current = min(self.current * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self.current = self.first
