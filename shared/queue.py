"""How both sides reach arq's Redis."""

from __future__ import annotations

from arq.connections import RedisSettings

from shared.settings import Settings


def arq_redis_settings(settings: Settings) -> RedisSettings:
    redis = RedisSettings.from_dsn(settings.redis_url)
    # Fail fast rather than let a request wait on a Redis that is not there.
    redis.conn_timeout = 2
    redis.conn_retries = 1
    return redis
