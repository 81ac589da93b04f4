"""Reinforcement: a point the user already has is strengthened, not stored again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.memory import point_key
from shared.models import ContextPoint
from shared.mongo import SESSION_CONTEXTS


async def reinforce_known_points(
    db: Any, user_id: str, session_id: str, points: list[ContextPoint], now: datetime
) -> list[ContextPoint]:
    """Reinforce the stored copies of `points` from the user's other sessions; return the new ones.

    The stored point's context gets strength 1 again (strength lives on the context, so
    decay and recall stay one server-side update and one query), the point's mention
    count goes up by one and its last-seen time is now.
    """
    keys = {point_key(p.kind, p.content): p for p in points}
    if not keys:
        return []
    cursor = db[SESSION_CONTEXTS].find(
        {"user_id": user_id, "session_id": {"$ne": session_id}, "context_points.key": {"$in": list(keys)}},
        {"context_points.key": 1},
    ).sort("updated_at", -1)
    known: dict[str, Any] = {}
    for doc in await cursor.to_list(length=None):
        for stored in doc["context_points"]:
            known.setdefault(stored["key"], doc["_id"])  # newest context holding it
    for key in known.keys() & keys.keys():
        await db[SESSION_CONTEXTS].update_one(
            {"_id": known[key], "context_points.key": key},
            {
                "$inc": {"context_points.$.mentions": 1},
                "$set": {"context_points.$.last_seen_at": now, "strength": 1.0, "decayed_at": now},
            },
        )
    return [p for key, p in keys.items() if key not in known]
