"""The event loop of every command: uvloop where it is installed, else asyncio's own.

uvloop runs the worker's many small database round trips with less Python
per trip (docs/benchmarks.md, "Job queue"); it is a dependency on every
platform it supports, and asyncio's loop stands in everywhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # a platform uvloop does not support (Windows)
        return asyncio.run(main)
    return uvloop.run(main)
