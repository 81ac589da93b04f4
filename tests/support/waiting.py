"""The one way tests wait: for an event, never for a fixed time.

`wait_for(check)` calls `check` (sync or async) until it returns something truthy and
returns that; past `seconds` it fails saying what it waited for. A `check` may raise
AssertionError to stop the wait at once (a process that died meanwhile).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(
    check: Callable[[], Awaitable[T] | T], seconds: float = 10.0, every: float = 0.05, what: str | None = None
) -> T:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"not true within {seconds:g} s: {what or getattr(check, '__name__', check)}")
        await asyncio.sleep(every)
