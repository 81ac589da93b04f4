"""Forgetting on request: a user deletes a memory, one stored point, or a whole session's
memory; or corrects a memory, which forgets its old words.

Each is owner-only (every filter names the user), and each leaves memory consistent the
way the memory engine expects (docs/architecture.md, memory engine): a deleted context's
mentions leave the entity graph (`entities.forget_context`), entities no context names any
more take their relations with them (`relations.forget_entities`), the communities are
marked for regrouping (`communities.mark_changed`), and the user's recall cache is dropped
and rebuilt so the coach stops using what was forgotten at once.

What was derived from the sessions concerned goes too (`withdraw_derived`): a reflection's
insights and a summary may quote what the user deleted or corrected, in words no rule can
match for sure (an LLM's paraphrase). The insights that cite those sessions are pulled and
the sessions are left for the next reflection; a finished summary that covers them is
withdrawn (its words gone) and its sessions wait for the next summary. Both are written
again from memory as it is now (shared/store/contexts.py, `points_now`). A session already
pruned after its summary loses that summary's narrative; its memories stay, as records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from shared.memory.recall_cache import drop_and_rebuild
from shared.memory.strength import point_key
from shared.queue.arq_adapter.pool import QueuePool
from shared.store import communities, context_counters, contexts, entities, memories, reflections, relations, summaries
from shared.store.mongo import Database


async def withdraw_derived(db: Database, user_id: str, context_ids: list[str]) -> None:
    """Insights citing these contexts, and finished summaries covering them, go (see above).

    A summary or reflection being written from them meanwhile (its LLM call takes seconds) is
    stored after this ran: the contexts' `forgets` marks move first, and the job compares
    them before and after it stores (`withdraw_if_forgotten`), so one side always sees the
    other."""
    ids = sorted({c for c in context_ids if ObjectId.is_valid(c)})
    if not ids:
        return
    await contexts.note_forgetting(db, user_id, [ObjectId(c) for c in ids])
    if await reflections.drop_insights_citing(db, user_id, ids):
        await contexts.mark_reflected(db, user_id, [ObjectId(c) for c in ids], None)
    withdrawn = await summaries.withdraw_covering(db, user_id, [ObjectId(c) for c in ids])
    if withdrawn:
        await contexts.unclaim(db, user_id, withdrawn)
        await context_counters.recount_unsummarized(db, user_id)


async def withdraw_if_forgotten(db: Database, user_id: str, marks: dict[ObjectId, int]) -> bool:
    """After a summary or reflection was stored from contexts whose `forgets` marks were
    `marks` before its LLM call: if the user deleted or corrected something in them since,
    what was just stored goes as it would have then. True if it did."""
    now = await contexts.forget_marks(db, user_id, list(marks))
    changed = [str(c) for c, n in marks.items() if now.get(c) != n]
    if changed:
        await withdraw_derived(db, user_id, changed)
    return bool(changed)


async def reword_memory(db: Database, user_id: str, before: dict[str, Any], kind: str, content: str) -> None:
    """After the user changed a memory's words: the sessions it came from show the new words
    (`GET /api/v1/memory`), and what was derived from them, which may quote the old, goes."""
    if (kind, content) == (before["kind"], before["content"]):
        return
    for context_id in source_contexts(before):
        await contexts.reword_point(db, user_id, context_id, worded_keys(before), kind, content)
    if content != before["content"]:
        await withdraw_derived(db, user_id, source_contexts(before))


def worded_keys(memory: dict[str, Any]) -> set[str]:
    """Every wording a memory has had, as point keys: what a session's context may hold of it."""
    versions = {point_key(v["kind"], v["content"]) for v in memory.get("versions", [])}
    return {memory["key"], *memory.get("replaced_keys", []), *versions}


def source_contexts(memory: dict[str, Any]) -> list[str]:
    """The contexts a memory came from (its sessions' extractions)."""
    return [s["context_id"] for s in memory.get("sources", []) if s.get("context_id")]


async def forget_point(db: Database, redis: QueuePool, timeout: float, user_id: str, context_id: str, key: str) -> bool:
    """Remove one point from one of the user's contexts. False if there was none."""
    if not await contexts.remove_point(db, user_id, context_id, key):
        return False
    await memories.retract_from_context(db, user_id, context_id, key, datetime.now(UTC))
    await withdraw_derived(db, user_id, [context_id])
    await drop_and_rebuild(db, redis, timeout, user_id)
    return True


async def forget_session(db: Database, redis: QueuePool, timeout: float, user_id: str, context_id: str) -> bool:
    """Remove a whole session's memory (its context) and what the graph learned only from it."""
    session_id = await contexts.delete_context(db, user_id, context_id)
    if session_id is None:
        return False
    await memories.retract_from_context(db, user_id, context_id, None, datetime.now(UTC))
    await withdraw_derived(db, user_id, [context_id])
    # The graph names a context by its id, or by its session before the context was stored.
    orphans = await entities.forget_context(db, user_id, context_id)
    orphans += await entities.forget_context(db, user_id, f"session:{session_id}")
    await forget_graph_orphans(db, user_id, orphans)
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
    gone = [doc["content"], *(v["content"] for v in doc.get("versions", []))]
    orphans: list[ObjectId] = []
    for context_id in source_contexts(doc):
        for key in worded_keys(doc):
            await contexts.remove_point(db, user_id, context_id, key)
        # The people, places and things only its words named in that session leave the graph.
        kept = await contexts.point_texts(db, user_id, context_id)
        orphans += await entities.forget_named(db, user_id, context_id, gone, kept)
    await forget_graph_orphans(db, user_id, orphans)
    await withdraw_derived(db, user_id, source_contexts(doc))
    await drop_and_rebuild(db, redis, timeout, user_id)
    return True


async def forget_graph_orphans(db: Database, user_id: str, orphans: list[ObjectId]) -> None:
    """Entities that left the graph take their relations; the communities are regrouped."""
    await relations.forget_entities(db, user_id, orphans)
    if orphans:
        await communities.mark_changed(db, user_id, datetime.now(UTC))  # regrouped by the nightly job
