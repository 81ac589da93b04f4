"""The queue's Redis handle: arq's ArqRedis (a redis-py client that can also enqueue)."""

from __future__ import annotations

from arq.connections import ArqRedis, RedisSettings, create_pool
from redis.asyncio import BlockingConnectionPool

from shared.process.settings import Settings

# The handle both sides pass around: plain Redis commands plus arq's enqueue.
QueuePool = ArqRedis


def redis_settings(settings: Settings) -> RedisSettings:
    redis = RedisSettings.from_dsn(settings.redis_url)
    # Fail fast rather than let a request wait on a Redis that is not there.
    redis.conn_timeout = 2
    redis.conn_retries = 1
    return redis


async def open_pool(settings: Settings, queue_name: str | None = None) -> QueuePool:
    """Connect now (the CLI, which should fail at once when Redis is not there)."""
    return await create_pool(redis_settings(settings), default_queue_name=queue_name or settings.queue_name)


async def open_pool_at(redis_url: str) -> QueuePool:
    """A pool on a bare URL with arq's defaults (benches and tools)."""
    return await create_pool(RedisSettings.from_dsn(redis_url))


# The service's connections for short commands (limits, leases, enqueues): a burst (1,000
# reply streams closing at once) waits its turn instead of opening connections it then keeps.
MAX_CONNECTIONS = 64


def lazy_pool(settings: Settings) -> QueuePool:
    """A pool that connects on first use, with short time-outs: the service starts and logs
    users out while Redis is down (enqueues then go to the outbox). Bounded: past
    MAX_CONNECTIONS a command waits up to REDIS_TIMEOUT_SECONDS for a free one."""
    timeout = settings.redis_timeout_seconds
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=MAX_CONNECTIONS,
        timeout=timeout,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )
    return ArqRedis(pool, default_queue_name=settings.queue_name)
