"""Forgetting on request: a user deletes one stored point, or a whole session's memory.

Both are owner-only (every filter names the user), and both leave memory consistent the
way the memory engine expects (docs/architecture.md, memory engine): a deleted context's
mentions leave the entity graph (`entities.forget_context`), entities no context names any
more take their relations with them (`relations.forget_entities`), the communities are
marked for regrouping (`communities.mark_changed`), and the user's recall cache is dropped
and rebuilt so the coach stops using what was forgotten at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.memory.recall_cache import drop_and_rebuild
from shared.memory.strength import point_key
from shared.queue.arq_adapter.pool import QueuePool
from shared.store import communities, contexts, entities, memories, relations
from shared.store.mongo import Database


async def forget_point(db: Database, redis: QueuePool, timeout: float, user_id: str, context_id: str, key: str) -> bool:
    """Remove one point from one of the user's contexts. False if there was none."""
    if not await contexts.remove_point(db, user_id, context_id, key):
        return False
    await memories.retract_from_context(db, user_id, context_id, key, datetime.now(UTC))
    await drop_and_rebuild(db, redis, timeout, user_id)
    return True


async def forget_session(db: Database, redis: QueuePool, timeout: float, user_id: str, context_id: str) -> bool:
    """Remove a whole session's memory (its context) and what the graph learned only from it."""
    session_id = await contexts.delete_context(db, user_id, context_id)
    if session_id is None:
        return False
    await memories.retract_from_context(db, user_id, context_id, None, datetime.now(UTC))
    # The graph names a context by its id, or by its session before the context was stored.
    orphans = await entities.forget_context(db, user_id, context_id)
    orphans += await entities.forget_context(db, user_id, f"session:{session_id}")
    await relations.forget_entities(db, user_id, orphans)
    if orphans:
        await communities.mark_changed(db, user_id, datetime.now(UTC))  # regrouped by the nightly job
    await drop_and_rebuild(db, redis, timeout, user_id)
    return True


async def retract_memory(db: Database, redis: QueuePool, timeout: float, user_id: str, memory_id: str) -> bool:
    """The user deletes a memory: retracted (its history kept, never in a prompt or a search
    again), its words pulled from the sessions it came from (so `GET /api/v1/memory` agrees),
    and the recall index dropped. False if the user has no such active memory."""
    doc = await memories.find(db, user_id, memory_id)
    if doc is None or not await memories.end(db, user_id, memory_id, "retracted", datetime.now(UTC), by="user"):
        return False
    # Every wording it had: a session's context keeps the words its extraction found, which a
    # later consolidation or the user's edit may have changed since.
    worded = {point_key(v["kind"], v["content"]) for v in doc.get("versions", [])}
    for source in doc.get("sources", []):
        for key in {doc["key"], *doc.get("replaced_keys", []), *worded}:
            if source.get("context_id"):
                await contexts.remove_point(db, user_id, source["context_id"], key)
    await drop_and_rebuild(db, redis, timeout, user_id)
    return True
