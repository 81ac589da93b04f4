"""`ping`: a job that does nothing but answer, so an operator can see workers consume.

python -m worker enqueue ping --wait     # prints "pong" once a worker has run it
"""

from __future__ import annotations

from typing import Any


async def ping(ctx: dict[str, Any]) -> str:
    return "pong"
