"""`cleanup_streams` (hourly cron): end replies whose worker vanished, remove streams no one needs.

- A reply still `generating` past every try's time limit (`Settings.job_budget_seconds`:
  JOB_MAX_TRIES × (JOB_TIMEOUT_SECONDS + RETRY_CAP_SECONDS)) lost its worker for good: it becomes `failed`, its stream gets the
  terminal `error` its listeners are waiting for, and its session's reply lease is freed.
- Streams expire by themselves (shared/redis_structures/reply_stream.py sets an expiry on the first and the
  last event). One that has none (its expiry was lost, say to a Redis restart between the
  two commands) is deleted here once its reply finished more than STREAM_TTL_SECONDS ago,
  or no longer exists.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.redis_structures.reply_stream import ReplyStreams, stream_key
from shared.store.mongo import Database
from shared.store.replies import fail_stuck, finished_before
from worker.context import job_context

log = logging.getLogger(__name__)

SCAN_BATCH = 500


async def cleanup_streams(ctx: dict[str, Any], now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    resources = job_context(ctx).resources
    settings, streams, lease = resources.settings, resources.reply_streams, resources.reply_lease
    stuck = await fail_stuck(resources.db, now - timedelta(seconds=settings.job_budget_seconds), now)
    for reply_id, session_id in stuck:
        _, terminal = await streams.text(reply_id)
        if terminal is None:
            await streams.append(reply_id, "error", {"code": "timed_out", "detail": "the worker writing this reply stopped"})
        await lease.free(session_id, reply_id)
    removed = await remove_streams_without_expiry(resources.db, streams, now - timedelta(seconds=settings.stream_ttl_seconds))
    if stuck or removed:
        log.info("cleanup_streams: %d stuck replies failed, %d streams without expiry removed", len(stuck), removed)
    return {"stuck_failed": len(stuck), "streams_removed": removed}


async def remove_streams_without_expiry(db: Database, streams: ReplyStreams, finished_cutoff: datetime) -> int:
    redis = streams.redis
    prefix = stream_key("")
    removed = 0
    batch: list[str] = []
    async for key in redis.scan_iter(match=prefix + "*", count=SCAN_BATCH, _type="stream"):
        batch.append(key.decode() if isinstance(key, bytes) else key)
        if len(batch) >= SCAN_BATCH:
            removed += await _remove_batch(db, streams, batch, prefix, finished_cutoff)
            batch = []
    if batch:
        removed += await _remove_batch(db, streams, batch, prefix, finished_cutoff)
    return removed


async def _remove_batch(db: Database, streams: ReplyStreams, keys: list[str], prefix: str, finished_cutoff: datetime) -> int:
    async with streams.redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.ttl(key)
        ttls = await pipe.execute()
    no_expiry = [key[len(prefix) :] for key, ttl in zip(keys, ttls, strict=True) if ttl == -1]
    if not no_expiry:
        return 0
    done = await finished_before(db, no_expiry, finished_cutoff)
    return await streams.delete(*done)
