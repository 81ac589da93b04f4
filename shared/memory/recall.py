"""What the coach remembers when it answers: the digest, from the recall cache or the database.

The database path ranks points by strength as of now (stored strength decayed by the days
since the last decay run), so what a user reads in `GET /memory` and what the coach is
given agree. The worker's `rebuild_recall_cache` stores that same digest in Redis; the
chat reads it there in one GET and comes here for the database only on a miss.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.memory.recall_cache import read_cached, rebuild_on_miss
from shared.models import MemoryDigest
from shared.process.settings import Settings
from shared.store import contexts, summaries
from shared.store.mongo import Database
from shared.store.reflections import recalled_insights

# Recall ranks the points of this many most recently touched contexts: enough to reach back
# well past a summary's worth of sessions, few enough to keep the chat's query small.
RECALL_CONTEXTS = 50


async def build_digest(db: Database, user_id: str, settings: Settings, now: datetime | None = None) -> MemoryDigest:
    """The newest summary, the strongest points, the newest reflection's insights; each query
    lives with its collection (shared/store/contexts.py, shared/store/summaries.py, shared/store/reflections.py)."""
    now = now or datetime.now(UTC)
    return MemoryDigest(
        summary=await summaries.latest_text(db, user_id),
        points=await contexts.recall_points(
            db, user_id, now, settings.memory_decay_rate, RECALL_CONTEXTS, settings.recall_points
        ),
        reflections=await recalled_insights(db, user_id, settings.recall_insights),
    )


async def recall(
    db: Database, user_id: str, settings: Settings, now: datetime | None = None, *, cache: Any = None
) -> MemoryDigest:
    """The digest from the recall cache in `cache` (a Redis client) if it holds one, else
    from the database, asking the worker to cache it for the next reply."""
    reachable = False
    if cache is not None:
        cached, reachable = await read_cached(cache, user_id)
        if cached is not None:
            return cached
    digest = await build_digest(db, user_id, settings, now)
    if reachable:  # with Redis away, asking for a rebuild would only delay the reply
        await rebuild_on_miss(cache, user_id, now or datetime.now(UTC))
    return digest
