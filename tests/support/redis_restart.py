"""A `redis-server` that can be stopped and started again on the same port, keeping its data.

Like production Redis (compose runs it with `--appendonly yes`), it writes an append-only
file, so a queue survives the restart: what the outage tests need. Stopped by pid.
"""

from __future__ import annotations

from allinone.redis_process import RedisProcess


class RestartableRedis(RedisProcess):
    def __init__(self) -> None:
        super().__init__(append_only=True)
