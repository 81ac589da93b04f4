"""The recall cache: each user's memory digest, ready for the next chat reply, in Redis.

A digest (newest summary, top points, newest reflection's insights) costs the chat several
MongoDB queries and a ranking; the cache makes it one GET. Jobs that change what the digest
would say (extraction, summary, reflection, decay) drop the user's entry at once and enqueue
`rebuild_recall_cache`, so a chat between the change and the rebuild reads the database,
never the old digest: the entry is stale at most while a rebuild that started before the
change is still writing. A missing entry (expired, Redis flushed) is rebuilt on the next
chat's miss.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from shared.models import MemoryDigest
from shared.queue.jobs import REBUILD_RECALL_CACHE, rebuild_recall_job_id
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.mongo import Database
from shared.store.outbox import enqueue_or_store

log = logging.getLogger(__name__)

PREFIX = "recall:v1:"
SCAN_BATCH = 500


def cache_key(user_id: str) -> str:
    return f"{PREFIX}{user_id}"


async def read_digest(redis: Any, user_id: str) -> MemoryDigest | None:
    """One GET. None when the entry is missing or unreadable, or Redis does not answer."""
    digest, _ = await read_cached(redis, user_id)
    return digest


async def read_cached(redis: Any, user_id: str) -> tuple[MemoryDigest | None, bool]:
    """The cached digest, if any, and whether Redis answered (a caller then knows a rebuild
    request would only wait on a Redis that is away)."""
    try:
        raw = await redis.get(cache_key(user_id))
    except REDIS_DOWN as exc:
        log.warning("recall cache unreachable, reading the database: %s", exc)
        return None, False
    if raw is None:
        return None, True
    try:
        return MemoryDigest.model_validate_json(raw), True
    except ValueError:
        return None, True  # an entry from an older shape: the rebuild replaces it


async def write_digest(redis: Any, user_id: str, digest: MemoryDigest, ttl_seconds: int) -> None:
    await redis.set(cache_key(user_id), digest.model_dump_json(), ex=ttl_seconds)


async def drop_and_rebuild(db: Database, redis: Any, timeout: float, user_id: str) -> None:
    """What a job that changed the user's memory calls: the old digest goes now, a new one follows.

    Never fails the job that calls it: with Redis away the rebuild waits in the outbox
    (replayed by the service) and replaces whatever entry survived once Redis is back; the
    chat reads the database meanwhile, because it cannot reach the cache either.
    """
    try:
        async with asyncio.timeout(timeout):
            await redis.delete(cache_key(user_id))
    except REDIS_DOWN as exc:
        log.warning("could not drop the recall cache of %s (%s); its rebuild will replace it", user_id, type(exc).__name__)
    job_id = rebuild_recall_job_id(user_id, datetime.now(UTC))
    await enqueue_or_store(db, redis, timeout, REBUILD_RECALL_CACHE, user_id, job_id=job_id)


async def rebuild_on_miss(redis: Any, user_id: str, now: datetime) -> None:
    """A chat found no entry: ask for one. One job per user and minute, however many chats miss."""
    try:
        await redis.enqueue_job(REBUILD_RECALL_CACHE, user_id, _job_id=rebuild_recall_job_id(user_id, now, per_minute=True))
    except REDIS_DOWN as exc:
        log.warning("could not enqueue a recall cache rebuild for %s: %s", user_id, exc)


async def drop_and_rebuild_everyone(db: Database, redis: Any, timeout: float) -> int:
    """After decay (which touches every user): drop each cached entry and enqueue its rebuild."""
    count = 0
    async for key in redis.scan_iter(match=f"{PREFIX}*", count=SCAN_BATCH):
        user_id = (key.decode() if isinstance(key, bytes) else key).removeprefix(PREFIX)
        await drop_and_rebuild(db, redis, timeout, user_id)
        count += 1
    return count
