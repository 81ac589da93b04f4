"""The queue as it stands, per function: what arq holds in Redis, read in bulk.

arq keeps one sorted set per queue (job id -> when it may run), a job key with the pickled
definition (function, args, enqueue time) and an in-progress key while a worker runs it.
A job stays in the sorted set while it runs, so "queued" means due and not in progress.
Reading 10,000 jobs is three pipelined round trips (see docs/benchmarks.md for the time).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from pydantic import BaseModel
from redis.asyncio import Redis

from shared.queue.arq_adapter.keys import in_progress_key, job_key
from shared.queue.arq_adapter.records import decode_definition

CHUNK = 1000


class FunctionQueue(BaseModel):
    function: str
    queued: int = 0
    deferred: int = 0
    in_progress: int = 0
    oldest_queued_age_seconds: float | None = None


async def scan_queue(redis: Redis, queue_name: str, now: float | None = None) -> dict[str, FunctionQueue]:
    now_ms = (now if now is not None else time.time()) * 1000
    entries = await redis.zrange(queue_name, 0, -1, withscores=True)
    by_function: dict[str, FunctionQueue] = {}
    for start in range(0, len(entries), CHUNK):
        chunk = entries[start : start + CHUNK]
        ids = [(i.decode() if isinstance(i, bytes) else i) for i, _ in chunk]
        async with redis.pipeline(transaction=False) as pipe:
            pipe.mget([job_key(i) for i in ids])
            pipe.mget([in_progress_key(i) for i in ids])
            definitions, running = await pipe.execute()
        for (_, score), raw, in_progress in zip(chunk, definitions, running, strict=True):
            if raw is None:
                continue  # finished between the two reads
            job = decode_definition(raw)
            if job is None:
                continue
            row = by_function.setdefault(job.function, FunctionQueue(function=job.function))
            if in_progress is not None:
                row.in_progress += 1
            elif score > now_ms:
                row.deferred += 1
            else:
                row.queued += 1
                age = max(0.0, (now_ms - job.enqueue_time.timestamp() * 1000) / 1000)
                if row.oldest_queued_age_seconds is None or age > row.oldest_queued_age_seconds:
                    row.oldest_queued_age_seconds = round(age, 3)
    return by_function


async def scan_queues(redis: Redis, queue_names: Iterable[str], now: float | None = None) -> dict[str, FunctionQueue]:
    """`scan_queue` over several queues (background and chat), one row per function: a
    function is enqueued on one queue only (shared/queue/jobs.py `queue_for`)."""
    rows: dict[str, FunctionQueue] = {}
    for name in queue_names:
        rows.update(await scan_queue(redis, name, now))
    return rows
