"""Slows key guessing down: per client address, a handful of wrong keys per window.

After AUTH_FAILURE_LIMIT wrong keys (Bearer or the sign-in form) within
AUTH_FAILURE_WINDOW_SECONDS, every key attempt from that address gets 429
with Retry-After until a window has passed, the right key included, so a
guess that happens to be right tells the guesser nothing. IPv6 clients are
counted per /64, the block one subscriber usually gets.

The counts live in this process's memory, not in the database: traffic
without a key must not be able to make the database write. With several web
processes an address gets that many times the limit.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED = 10_000  # addresses remembered at once; the oldest go first


@dataclass
class _Count:
    window_start: float
    failures: int = 0
    blocked_until: float = 0.0


def client_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class AuthThrottle:
    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._counts: dict[str, _Count] = {}

    def retry_after(self, address: str) -> int | None:
        """Seconds this address must wait before trying a key again, or None."""
        count = self._counts.get(client_key(address))
        now = self.clock()
        if count is None or count.blocked_until <= now:
            return None
        return max(1, math.ceil(count.blocked_until - now))

    def failed(self, address: str, where: str) -> str | None:
        """Count a wrong key; return the line to log, if this one deserves one.

        One line for the first failure of a window and one when the address is
        blocked: a thousand guesses make two lines, not a thousand.
        """
        key = client_key(address)
        now = self.clock()
        count = self._counts.get(key)
        if count is None or now - count.window_start >= self.window:
            self._forget_old(now)
            count = self._counts[key] = _Count(window_start=now)
        count.failures += 1
        if count.failures == self.limit:
            count.blocked_until = now + self.window
            return (
                f"{count.failures} wrong keys from {address} within {self.window:g} s: "
                f"refusing its key attempts for {self.window:g} s"
            )
        if count.failures == 1:
            return (
                f"A wrong key from {address} ({where}); further ones within "
                f"{self.window:g} s are counted, and logged when they reach {self.limit}"
            )
        return None

    def _forget_old(self, now: float) -> None:
        if len(self._counts) < MAX_TRACKED:
            return
        for key in [
            k
            for k, c in self._counts.items()
            if now - c.window_start >= self.window and c.blocked_until <= now
        ]:
            del self._counts[key]
        while len(self._counts) >= MAX_TRACKED:
            del self._counts[next(iter(self._counts))]
