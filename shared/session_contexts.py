"""Forgetting on request: a user deletes one stored point, or a whole session's memory.

Both are owner-only (every filter names the user), and both leave memory consistent the
way the memory engine expects (docs/architecture.md, memory engine): a deleted context's
mentions leave the entity graph (`entities.forget_context`), entities no context names any
more take their relations with them (`relations.forget_entities`), the communities are
marked for regrouping (`communities.mark_changed`), and the user's recall
cache is dropped and rebuilt so the coach stops using what was forgotten at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from motor.motor_asyncio import AsyncIOMotorDatabase

from shared import communities, entities, relations
from shared.mongo import SESSION_CONTEXTS
from shared.recall_cache import drop_and_rebuild


def context_oid(context_id: str) -> ObjectId | None:
    """Context ids are ObjectIds; anything else names no context (and is not an error)."""
    try:
        return ObjectId(context_id)
    except (InvalidId, TypeError):
        return None


async def forget_point(db: AsyncIOMotorDatabase[Any], redis: Any, timeout: float, user_id: str, context_id: str, key: str) -> bool:
    """Remove one point (by its key) from one of the user's contexts. False if there was none."""
    oid = context_oid(context_id)
    if oid is None:
        return False
    result = await db[SESSION_CONTEXTS].update_one(
        {"_id": oid, "user_id": user_id, "context_points.key": key}, {"$pull": {"context_points": {"key": key}}}
    )
    if result.modified_count == 0:
        return False
    await drop_and_rebuild(db, redis, timeout, user_id)
    return True


async def forget_session(db: AsyncIOMotorDatabase[Any], redis: Any, timeout: float, user_id: str, context_id: str) -> bool:
    """Remove a whole session's memory (its context) and what the graph learned only from it."""
    oid = context_oid(context_id)
    doc = None if oid is None else await db[SESSION_CONTEXTS].find_one_and_delete({"_id": oid, "user_id": user_id}, {"session_id": 1})
    if doc is None:
        return False
    # The graph names a context by its id, or by its session before the context was stored.
    orphans = await entities.forget_context(db, user_id, context_id)
    orphans += await entities.forget_context(db, user_id, f"session:{doc['session_id']}")
    await relations.forget_entities(db, user_id, orphans)
    if orphans:
        await communities.mark_changed(db, user_id, datetime.now(UTC))  # regrouped by the nightly job
    await drop_and_rebuild(db, redis, timeout, user_id)
    return True
