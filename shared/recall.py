"""What the coach remembers when it answers: the digest, from the recall cache or the database.

The database path ranks points by strength as of now (stored strength decayed by the days
since the last decay run), so what a user reads in `GET /memory` and what the coach is
given agree. The worker's `rebuild_recall_cache` stores that same digest in Redis; the
chat reads it there in one GET and comes here for the database only on a miss.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.memory import current_strength
from shared.models import MemoryDigest, RecalledPoint
from shared.mongo import SESSION_CONTEXTS, SUMMARIES
from shared.recall_cache import read_cached, rebuild_on_miss
from shared.reflections import recalled_insights
from shared.settings import Settings

# Recall ranks the points of this many most recently touched contexts: enough to reach back
# well past a summary's worth of sessions, few enough to keep the chat's query small.
RECALL_CONTEXTS = 50


def scored_points(doc: dict[str, Any], strength: float) -> list[dict[str, Any]]:
    return [{**p, "score": strength * p["importance"]} for p in doc.get("context_points", [])]


async def build_digest(db: Any, user_id: str, settings: Settings, now: datetime | None = None) -> MemoryDigest:
    now = now or datetime.now(UTC)
    rate = settings.memory_decay_rate
    summary = await db[SUMMARIES].find_one({"user_id": user_id, "status": "done"}, {"text": 1}, sort=[("created_at", -1)])
    cursor = db[SESSION_CONTEXTS].find(
        {"user_id": user_id}, {"context_points": 1, "strength": 1, "decayed_at": 1}
    ).sort("updated_at", -1)
    points = [
        point
        for doc in await cursor.to_list(length=RECALL_CONTEXTS)
        for point in scored_points(doc, current_strength(doc["strength"], doc["decayed_at"], now, rate))
    ]
    # sorted() is stable, so among equal scores the newest context's points come first.
    top = sorted(points, key=lambda p: p["score"], reverse=True)[: settings.recall_points]
    return MemoryDigest(
        summary=summary["text"] if summary else None,
        points=[RecalledPoint(kind=p["kind"], content=p["content"]) for p in top],
        reflections=await recalled_insights(db, user_id, settings.recall_insights),
    )


async def recall(db: Any, user_id: str, settings: Settings, now: datetime | None = None, *, cache: Any = None) -> MemoryDigest:
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
