"""The memory crons: `decay_memories` (daily 02:00 UTC) and `prune_memories` (daily 03:00 UTC).

Both take `now` as an argument so tests and operators can pass time in; the cron passes
nothing and gets the wall clock. Each is a handful of server-side statements whatever the
number of documents: no document ever travels to Python.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.memory import DAY
from shared.mongo import REFLECTIONS, SESSION_CONTEXTS, SUMMARIES
from shared.recall_cache import drop_and_rebuild_everyone

log = logging.getLogger(__name__)

MS_PER_DAY = DAY / timedelta(milliseconds=1)


def decay_pipeline(rate: float, now: datetime) -> list[dict[str, Any]]:
    """strength *= rate ^ (days since decayed_at), then decayed_at = now. Because the exponent
    is the real time elapsed, a missed day is caught up exactly on the next run."""
    days = {"$divide": [{"$subtract": [now, "$decayed_at"]}, MS_PER_DAY]}
    return [{"$set": {"strength": {"$multiply": ["$strength", {"$pow": [rate, days]}]}, "decayed_at": now}}]


async def decay_memories(ctx: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    db, settings = ctx["db"], ctx["settings"]
    if not settings.enable_memory_decay:
        return {"skipped": True, "reason": "ENABLE_MEMORY_DECAY is false"}
    now = now or datetime.now(UTC)
    pipeline = decay_pipeline(settings.memory_decay_rate, now)
    result: dict[str, Any] = {"skipped": False}
    for collection in (SESSION_CONTEXTS, SUMMARIES, REFLECTIONS):
        decayed = await db[collection].update_many({"decayed_at": {"$lt": now}}, pipeline)
        expired = await db[collection].delete_many({"expires_at": {"$lte": now}})
        result[collection] = {"decayed": decayed.modified_count, "expired": expired.deleted_count}
    # A faded context may go once a finished summary holds what it said; never before.
    faded = await db[SESSION_CONTEXTS].delete_many(
        {"strength": {"$lt": settings.memory_strength_floor}, "summarized_at": {"$ne": None}}
    )
    result[SESSION_CONTEXTS]["faded"] = faded.deleted_count
    if "redis" in ctx:  # what was deleted may sit in cached digests
        result["recall_caches_rebuilt"] = await drop_and_rebuild_everyone(db, ctx["redis"], settings.redis_timeout_seconds)
    log.info("decay_memories: %s", result)
    return result


async def prune_memories(ctx: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    db, settings = ctx["db"], ctx["settings"]
    if settings.memory_retention_days == 0:
        return {"skipped": True, "reason": "MEMORY_RETENTION_DAYS is 0"}
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.memory_retention_days)
    pruned = await db[SESSION_CONTEXTS].delete_many({"created_at": {"$lt": cutoff}, "summarized_at": {"$ne": None}})
    log.info("prune_memories: %d contexts older than %s deleted", pruned.deleted_count, cutoff.date())
    return {"skipped": False, "pruned": pruned.deleted_count}
