"""Keeping each user's recall index (shared/redis_structures/recall_index.py) in step with
their memory.

Jobs and routes that change what recall would rank (an extraction, a reinforcement, a
summary, a reflection, a forgotten point, decay) call `drop_and_rebuild`: the index stops
answering at once (so no reply ranks from what was just forgotten) and a
`rebuild_recall_cache` job writes a new one from MongoDB. Between the two, replies rank
from MongoDB directly. A rebuild that read MongoDB before a later drop writes nothing (the
index's version counter), so the newest rebuild is the one that lands. A missing index
(expired, Redis flushed) is rebuilt on the next reply's miss.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from shared.queue.arq_adapter.enqueue import enqueue
from shared.queue.arq_adapter.pool import QueuePool
from shared.queue.jobs import REBUILD_RECALL_CACHE, rebuild_recall_job_id
from shared.redis_structures import recall_index
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.mongo import Database
from shared.store.outbox import enqueue_or_store

log = logging.getLogger(__name__)

SCAN_BATCH = 500


async def drop_and_rebuild(db: Database, redis: QueuePool, timeout: float, user_id: str) -> None:
    """What a change to the user's memory calls: the old index goes now, a new one follows.

    Never fails the caller: with Redis away the rebuild waits in the outbox (replayed by the
    service) and replaces whatever index survived once Redis is back; replies rank from the
    database meanwhile, because they cannot reach the index either.
    """
    try:
        async with asyncio.timeout(timeout):
            await recall_index.drop(redis, user_id)
    except REDIS_DOWN as exc:
        log.warning("could not drop the recall index of %s (%s); its rebuild will replace it", user_id, type(exc).__name__)
    job_id = rebuild_recall_job_id(user_id, datetime.now(UTC))
    await enqueue_or_store(db, redis, timeout, REBUILD_RECALL_CACHE, user_id, job_id=job_id)


async def rebuild_on_miss(redis: QueuePool, user_id: str, now: datetime) -> None:
    """A reply found no index: ask for one. One job per user and minute, however many replies miss."""
    try:
        await enqueue(redis, REBUILD_RECALL_CACHE, user_id, job_id=rebuild_recall_job_id(user_id, now, per_minute=True))
    except REDIS_DOWN as exc:
        log.warning("could not enqueue a recall index rebuild for %s: %s", user_id, exc)


async def drop_and_rebuild_everyone(db: Database, redis: QueuePool, timeout: float) -> int:
    """After decay (which touches every user): drop each index and enqueue its rebuild."""
    count = 0
    async for key in redis.scan_iter(match=recall_index.index_key("*"), count=SCAN_BATCH):
        user_id = recall_index.user_of(key.decode() if isinstance(key, bytes) else key)
        await drop_and_rebuild(db, redis, timeout, user_id)
        count += 1
    return count
