"""Enqueueing through arq, and the nudge that wakes an idle worker at once.

arq's queue (a sorted set per queue) stays the record of every job. Beside each enqueue we
push a nudge onto a short list per queue (keys.nudge_key); an idle worker blocks on that
list between its polls (worker.py), so it starts the job within a round trip instead of at
its next poll. A nudge carries nothing: a lost one (never pushed, or popped by a worker
that then found nothing it could take) costs at most one poll, never a job.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from shared.queue.arq_adapter.keys import job_key, nudge_key, result_key
from shared.queue.arq_adapter.pool import QueuePool

log = logging.getLogger(__name__)

# More nudges than this waiting wake no more workers than this; the list stays small even
# when no worker listens.
NUDGE_CAP = 64


async def enqueue(
    pool: QueuePool, function: str, *args: Any, job_id: str | None = None, queue_name: str | None = None, **kwargs: Any
) -> str | None:
    """arq's enqueue plus a nudge. The job's id, or None when arq already knows that id
    (queued, running or a kept result). None is also arq's answer to a connection lost at
    its EXEC: use `enqueue_confirmed` where that difference matters."""
    job = await pool.enqueue_job(function, *args, _job_id=job_id, _queue_name=queue_name, **kwargs)
    if job is None:
        return None
    await nudge(pool, queue_name or pool.default_queue_name)
    return job.job_id


async def enqueue_confirmed(
    pool: QueuePool, function: str, args: list[Any], job_id: str, *, queue_name: str | None = None
) -> None:
    """arq's enqueue, made sure. arq answers None for "this id is already queued", and also
    when the connection is lost at its EXEC (redis-py raises WatchError, which arq reads as
    the race it guards against), when nothing was queued. Only the first leaves the job or
    its result behind; the second is an outage, raised as one."""
    if await enqueue(pool, function, *args, job_id=job_id, queue_name=queue_name) is not None:
        return
    if not await pool.exists(job_key(job_id), result_key(job_id)):
        raise RedisConnectionError(f"the enqueue of {job_id} was not confirmed (connection lost at EXEC)")


async def nudge(pool: QueuePool, queue_name: str) -> None:
    """Wake one idle worker of `queue_name`. One round trip (LPUSH and LTRIM, pipelined)."""
    key = nudge_key(queue_name)
    try:
        async with pool.pipeline(transaction=False) as pipe:
            pipe.lpush(key, 1)
            pipe.ltrim(key, 0, NUDGE_CAP - 1)
            await pipe.execute()
    except RedisError as exc:
        # The job is queued; only its wake-up is lost, and the next poll finds it.
        log.warning("nudge for %s not sent (%s: %s); the job starts at the next poll", queue_name, type(exc).__name__, exc)
