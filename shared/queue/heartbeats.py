"""Worker heartbeats in Redis: who is consuming a queue, and since when.

Every worker writes its record every WORKER_HEARTBEAT_SECONDS from its poll loop, so a
worker whose loop is stuck or cut off from Redis stops beating. A record is one key with
an expiry plus the worker's id in a set per queue:

    coach:worker:<queue>:<worker id>   JSON WorkerHeartbeat, expires after STALE_AFTER_BEATS * 4 beats
    coach:workers:<queue>              set of worker ids (ids whose key expired are dropped on read)

Freshness is judged by Redis's own clock (the key's remaining time to live), not by the
reader's, so clock skew between machines cannot make a dead worker look alive.
`/readyz` needs one fresh worker; the admin workers view lists them all, stale ones marked.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import cast

from pydantic import BaseModel
from redis.asyncio import Redis

# A worker that missed this many beats in a row is stale; its record stays visible (marked
# stale) for four times as long, then expires.
STALE_AFTER_BEATS = 3
KEEP_STALE_FOR = 4


class WorkerHeartbeat(BaseModel):
    worker_id: str
    host: str
    pid: int
    queue_name: str
    started_at: datetime
    last_seen: datetime  # the worker's clock, for people; freshness uses Redis's clock
    interval_seconds: float
    jobs_complete: int = 0
    jobs_failed: int = 0
    jobs_retried: int = 0
    jobs_in_flight: int = 0


class WorkerStatus(WorkerHeartbeat):
    age_seconds: float
    stale: bool


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def index_key(queue_name: str) -> str:
    return f"coach:workers:{queue_name}"


def record_key(queue_name: str, worker_id: str) -> str:
    return f"coach:worker:{queue_name}:{worker_id}"


def record_ttl_seconds(interval_seconds: float) -> float:
    return max(1.0, interval_seconds * STALE_AFTER_BEATS * KEEP_STALE_FOR)


async def write_heartbeat(redis: Redis, beat: WorkerHeartbeat) -> None:
    ttl_ms = int(record_ttl_seconds(beat.interval_seconds) * 1000)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.psetex(record_key(beat.queue_name, beat.worker_id), ttl_ms, beat.model_dump_json())
        pipe.sadd(index_key(beat.queue_name), beat.worker_id)
        await pipe.execute()


async def remove_heartbeat(redis: Redis, queue_name: str, worker_id: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(record_key(queue_name, worker_id))
        pipe.srem(index_key(queue_name), worker_id)
        await pipe.execute()


async def list_workers(redis: Redis, queue_name: str) -> list[WorkerStatus]:
    """Every worker with a record on this queue, freshest first; `stale` marks missed beats."""
    # redis-py types its commands for its sync and async clients at once; on Redis they are awaitables.
    members = await cast(Awaitable[set[bytes | str]], redis.smembers(index_key(queue_name)))
    ids = [i.decode() if isinstance(i, bytes) else i for i in members]
    if not ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for worker_id in ids:
            pipe.get(record_key(queue_name, worker_id))
            pipe.pttl(record_key(queue_name, worker_id))
        answers = await pipe.execute()
    workers, gone = [], []
    for worker_id, raw, ttl_ms in zip(ids, answers[::2], answers[1::2], strict=True):
        if raw is None or ttl_ms is None or ttl_ms < 0:
            gone.append(worker_id)
            continue
        beat = WorkerHeartbeat.model_validate_json(raw)
        age = max(0.0, record_ttl_seconds(beat.interval_seconds) - ttl_ms / 1000)
        workers.append(
            WorkerStatus(**beat.model_dump(), age_seconds=round(age, 3), stale=age > beat.interval_seconds * STALE_AFTER_BEATS)
        )
    if gone:
        await cast(Awaitable[int], redis.srem(index_key(queue_name), *gone))
    return sorted(workers, key=lambda w: w.age_seconds)


async def fresh_workers(redis: Redis, queue_name: str) -> tuple[int, int]:
    """(fresh, known) worker counts for a queue."""
    workers = await list_workers(redis, queue_name)
    return sum(not w.stale for w in workers), len(workers)
