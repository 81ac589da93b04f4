"""The memory crons: `decay_memories` (daily 02:00 UTC) and `prune_memories` (daily 03:00 UTC).

Both take `now` as an argument so tests and operators can pass time in; the cron passes
nothing and gets the wall clock. Each is a handful of server-side statements whatever the
number of documents (`shared/store/contexts.py`, `shared/store/summaries.py`): no document travels to Python.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.memory.recall_cache import drop_and_rebuild, drop_and_rebuild_everyone
from shared.store import contexts, memories, reflections, summaries
from shared.store.mongo import MEMORIES, REFLECTIONS, SESSION_CONTEXTS, SUMMARIES
from worker.context import job_context

log = logging.getLogger(__name__)


async def decay_memories(ctx: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    resources = job_context(ctx).resources
    db, settings = resources.db, resources.settings
    if not settings.enable_memory_decay:
        return {"skipped": True, "reason": "ENABLE_MEMORY_DECAY is false"}
    now = now or datetime.now(UTC)
    rate = settings.memory_decay_rate
    result: dict[str, Any] = {
        "skipped": False,
        SESSION_CONTEXTS: {"decayed": await contexts.decay(db, rate, now), "expired": await contexts.delete_expired(db, now)},
        SUMMARIES: {"decayed": await summaries.decay(db, rate, now), "expired": await summaries.delete_expired(db, now)},
        REFLECTIONS: {"decayed": await reflections.decay(db, rate, now), "expired": await reflections.delete_expired(db, now)},
        MEMORIES: {"decayed": await memories.decay(db, rate, now), "expired": await memories.delete_expired(db, now)},
    }
    result[SESSION_CONTEXTS]["faded"] = await contexts.delete_faded(db, settings.memory_strength_floor)
    # What was deleted may sit in cached digests.
    result["recall_caches_rebuilt"] = await drop_and_rebuild_everyone(db, resources.redis, settings.redis_timeout_seconds)
    log.info("decay_memories: %s", result)
    return result


async def prune_memories(ctx: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    resources = job_context(ctx).resources
    db, settings = resources.db, resources.settings
    if settings.memory_retention_days == 0:
        return {"skipped": True, "reason": "MEMORY_RETENTION_DAYS is 0"}
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.memory_retention_days)
    touched = await contexts.users_with_summarized_before(db, cutoff)
    pruned = await contexts.prune_summarized_before(db, cutoff)
    for user_id in touched:  # their recall indexes still hold what was pruned
        await drop_and_rebuild(db, resources.redis, settings.redis_timeout_seconds, user_id)
    log.info("prune_memories: %d contexts older than %s deleted", pruned, cutoff.date())
    return {"skipped": False, "pruned": pruned}
