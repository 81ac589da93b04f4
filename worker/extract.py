"""`extract_session_context`: turn a session's messages into stored context points.

An extraction that stores new points reads everything it needs before the LLM call at once
(shared/memory/extraction_input.py), writes the context, the new memories and the context's
memory ids, counts the context toward the next summary, and refreshes the user's recall
index itself (worker/recall_cache.py: one job per extraction, not two). Reinforced points add
one update each; the entity graph (worker/graph.py) adds its own.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from shared.llm.attribution import attribute_llm_calls
from shared.memory import consolidate
from shared.memory.extraction_input import read_extraction_input
from shared.memory.strength import expiry, point_key
from shared.models import ExtractionOutcome
from shared.redis_structures.user_events import tell_noted
from shared.store import context_counters, contexts, memories
from shared.store.contexts import Covered
from shared.store.empty_extractions import record_empty_extraction
from shared.store.memories import Source
from worker.context import job_context
from worker.graph import record_graph
from worker.recall_cache import drop_and_refresh
from worker.summarize import enqueue_summary_if_due

log = logging.getLogger(__name__)

TRANSCRIPT_LIMIT = 100
MIN_MESSAGES = 2


async def extract_session_context(ctx: dict[str, Any], user_id: str, session_id: str) -> dict[str, Any]:
    resources = job_context(ctx).resources
    db, llm, settings = resources.db, resources.llm, resources.settings
    attribute_llm_calls(user_id)  # usage records and the daily budget
    read = await read_extraction_input(db, user_id, session_id, TRANSCRIPT_LIMIT)
    messages, context_id = read.messages, read.known.context_id
    if len(messages) < MIN_MESSAGES:
        return ExtractionOutcome(success=True, reason="insufficient_messages").model_dump()
    if read.up_to_date():
        return ExtractionOutcome(success=True, context_id=context_id, reason="up_to_date").model_dump()
    newest = messages[-1]

    # Consolidation (shared/memory/consolidate.py): the memories closest to what the user
    # said go to the LLM with their ids, so it can update, supersede or repeat them.
    known = read.memories
    user_lines = [m.content for m in messages if m.role == "user"]
    user_text = "\n".join(user_lines)  # what an alias the LLM gives an entity must come from
    shown = await consolidate.closest([k for k in known if k["status"] == "active"], user_lines)
    reply = await llm.extract_context(messages, shown)
    now = datetime.now(UTC)
    edited_at = {str(k["_id"]): k.get("user_edited_at") for k in known}
    removed = memories.words_the_user_removed(known)
    # A session extracted again (its socket closed, then logout) re-reads what it said: the
    # points its earlier extraction found were consolidated then, not twice.
    done_here = read.known.own_keys | memories.keys_from_session(known, session_id)
    fresh = [p for p in reply.extraction.points if point_key(p.kind, p.content) not in done_here]

    async def consolidate_into_memories(context: str | None) -> dict[str, int]:
        source = Source(session_id=session_id, context_id=context)
        done = await consolidate.apply(
            db,
            user_id,
            fresh,
            shown,
            edited_at,
            removed,
            source,
            consolidate.UserLines.of([(m.timestamp, m.content) for m in messages if m.role == "user"]),
            now,
            expiry(now, settings.memory_ttl_days),
        )
        if context is not None:
            await contexts.set_memory_ids(db, context, done.memory_ids)
        return done.counts

    new_points = await contexts.reinforce_known(db, read.known, reply.extraction.points, now)
    covered = Covered(
        first_message_id=messages[0].id, last_message_id=newest.id, last_at=newest.timestamp, message_count=len(messages)
    )
    if not new_points:
        # Nothing to store: no context (it would count toward the summary threshold), but
        # a watermark, so neither this job nor the sweep reads these messages again. A
        # context stored earlier for this session is kept as it is.
        reason = "no_new_points" if reply.extraction.points else "no_points"
        await record_empty_extraction(
            db, user_id, session_id, covered, reply.model, reason, now, expiry(now, settings.memory_ttl_days)
        )
        await record_graph(db, settings, user_id, context_id or f"session:{session_id}", reply.extraction, user_text, now)
        if reply.extraction.points:  # reinforced points changed what recall ranks first
            await consolidate_into_memories(None)
            await drop_and_refresh(resources, user_id)
        log.info("session %s: %s (%d messages read)", session_id, reason, len(messages))
        return ExtractionOutcome(success=True, context_id=context_id, reason=reason).model_dump()
    stored = await contexts.store_extraction(
        db,
        user_id,
        session_id,
        new_points,
        covered,
        reply.model,
        reply.usage.model_dump(),
        now,
        expiry(now, settings.memory_ttl_days),
    )
    if stored is None:
        log.info("session %s: a newer context is already stored", session_id)
        return ExtractionOutcome(success=True, reason="superseded").model_dump()
    stored_id, is_new = stored
    log.info(
        "session %s: %d new context points, %d reinforced",
        session_id,
        len(new_points),
        len(reply.extraction.points) - len(new_points),
    )
    counts = await consolidate_into_memories(stored_id)
    log.info("session %s: memories %s", session_id, counts)
    await record_graph(db, settings, user_id, stored_id, reply.extraction, user_text, now)
    await drop_and_refresh(resources, user_id)
    await tell_noted(resources.user_events, user_id, len(new_points), "extraction")
    if is_new:  # a rewritten context was counted when it was new
        count = await context_counters.count_new_context(db, user_id, had_other_contexts=read.known.other_sessions > 0)
        await enqueue_summary_if_due(resources, user_id, count)
    return ExtractionOutcome(success=True, context_id=stored_id, reason="extracted").model_dump()
