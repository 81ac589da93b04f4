"""Running one of our Lua scripts: by its SHA, sent whole only to a Redis that has not seen it
yet (a new or restarted server). Scripts are atomic by Redis's own rule, which is what lets a
check-then-write be one round trip instead of WATCH, read, MULTI, EXEC: the arq adapter's
enqueue and claim (shared/queue/arq_adapter/), the recall index's write (recall_index.py)."""

from __future__ import annotations

import hashlib
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError


class Script:
    def __init__(self, source: str) -> None:
        self.source, self.sha = source, hashlib.sha1(source.encode()).hexdigest()

    async def run(self, redis: Redis, keys: list[str], args: list[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)  # type: ignore[misc]  # sync and async typed as one
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)  # type: ignore[misc]
