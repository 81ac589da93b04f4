"""Steering jobs through arq's keys: abort, drop waiting ones, hand a try back."""

from __future__ import annotations

import time
from collections.abc import Iterable

from shared.queue.arq_adapter.keys import ABORT_SET, job_key, retry_key
from shared.queue.arq_adapter.pool import QueuePool


async def request_abort(pool: QueuePool, job_ids: Iterable[str]) -> None:
    """arq's abort: a worker that holds one of these jobs cancels its task at its next poll;
    a worker that picks one up later does not run it."""
    now_ms = int(time.time() * 1000)
    ids = {job_id: now_ms for job_id in job_ids}
    if ids:
        await pool.zadd(ABORT_SET, ids)


async def drop_definitions(pool: QueuePool, job_ids: list[str]) -> None:
    """Delete the definitions of jobs already taken off their queue (they never run)."""
    if job_ids:
        await pool.delete(*[job_key(job_id) for job_id in job_ids])


async def hand_back_try(pool: QueuePool, job_id: str) -> None:
    """arq counts a try at each pickup (INCR of its retry key); take this one back."""
    await pool.decr(retry_key(job_id))
