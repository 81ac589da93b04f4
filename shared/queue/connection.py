"""How both sides reach arq's Redis."""

from __future__ import annotations

from typing import Any

from arq.connections import RedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.process.settings import Settings


def arq_redis_settings(settings: Settings) -> RedisSettings:
    redis = RedisSettings.from_dsn(settings.redis_url)
    # Fail fast rather than let a request wait on a Redis that is not there.
    redis.conn_timeout = 2
    redis.conn_retries = 1
    return redis


async def enqueue_confirmed(arq: Any, function: str, args: list[Any], job_id: str, **options: Any) -> None:
    """arq's enqueue, made sure. arq answers None for "this id is already queued", and also
    when the connection is lost at its EXEC (redis-py raises WatchError, which arq reads as
    the race it guards against), when nothing was queued. Only the first leaves the job or
    its result behind; the second is an outage, raised as one. `options`: arq's
    (`_queue_name`)."""
    if await arq.enqueue_job(function, *args, _job_id=job_id, **options) is not None:
        return
    if not await arq.exists(job_key_prefix + job_id, result_key_prefix + job_id):
        raise RedisConnectionError(f"the enqueue of {job_id} was not confirmed (connection lost at EXEC)")
