"""`extract_session_context`: turn a session's messages into stored context points."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.empty_extractions import empty_watermark, record_empty_extraction
from shared.llm.attribution import attribute_llm_calls
from shared.memory import expiry, point_key
from shared.messages import recent_session_messages
from shared.models import ContextPoint, ExtractionOutcome
from shared.mongo import SESSION_CONTEXTS
from shared.recall_cache import drop_and_rebuild
from worker.graph import record_graph
from worker.reinforce import reinforce_known_points
from worker.summarize import enqueue_summary_if_due

log = logging.getLogger(__name__)

TRANSCRIPT_LIMIT = 100
MIN_MESSAGES = 2


def stored_point(point: ContextPoint, now: datetime) -> dict[str, Any]:
    return {**point.model_dump(), "key": point_key(point.kind, point.content), "mentions": 1, "first_seen_at": now, "last_seen_at": now}


async def extract_session_context(ctx: dict[str, Any], user_id: str, session_id: str) -> dict[str, Any]:
    db, llm, settings = ctx["db"], ctx["llm"], ctx["settings"]
    attribute_llm_calls(user_id)  # usage records and the daily budget
    messages = await recent_session_messages(db, session_id, TRANSCRIPT_LIMIT)
    if len(messages) < MIN_MESSAGES:
        return ExtractionOutcome(success=True, reason="insufficient_messages").model_dump()

    newest = messages[-1]
    key = {"user_id": user_id, "session_id": session_id}
    stored = await db[SESSION_CONTEXTS].find_one(key, {"covered.last_message_id": 1})
    context_id = str(stored["_id"]) if stored else None
    empty = await empty_watermark(db, user_id, session_id)
    if newest.id in (stored and stored["covered"]["last_message_id"], empty and empty["last_message_id"]):
        return ExtractionOutcome(success=True, context_id=context_id, reason="up_to_date").model_dump()

    reply = await llm.extract_context(messages)
    now = datetime.now(UTC)
    new_points = await reinforce_known_points(db, user_id, session_id, reply.extraction.points, now)
    covered = {
        "first_message_id": messages[0].id,
        "last_message_id": newest.id,
        "last_at": newest.timestamp,
        "message_count": len(messages),
    }
    if not new_points:
        # Nothing to store: no context (it would count toward the summary threshold), but
        # a watermark, so neither this job nor the sweep reads these messages again. A
        # context stored earlier for this session is kept as it is.
        reason = "no_new_points" if reply.extraction.points else "no_points"
        await record_empty_extraction(db, user_id, session_id, covered, reply.model, reason, now, expiry(now, settings.memory_ttl_days))
        await record_graph(db, settings, user_id, context_id or f"session:{session_id}", reply.extraction, now)
        if reply.extraction.points:  # reinforced points changed what recall ranks first
            await drop_and_rebuild(db, ctx["redis"], settings.redis_timeout_seconds, user_id)
        log.info("session %s: %s (%d messages read)", session_id, reason, len(messages))
        return ExtractionOutcome(success=True, context_id=context_id, reason=reason).model_dump()
    try:
        # The watermark condition keeps a slower run over fewer messages from overwriting a
        # newer one: if a newer context is stored the filter misses, the upsert collides with
        # the unique (user_id, session_id) index, and this run stands down.
        doc = await db[SESSION_CONTEXTS].find_one_and_update(
            {**key, "$or": [{"covered.last_at": {"$lt": newest.timestamp}}, {"covered": {"$exists": False}}]},
            {
                "$set": {
                    "context_points": [stored_point(p, now) for p in new_points],
                    "covered": covered,
                    "model": reply.model,
                    "usage": reply.usage.model_dump(),
                    "strength": 1.0,
                    "decayed_at": now,
                    "expires_at": expiry(now, settings.memory_ttl_days),
                    "updated_at": now,
                    "reflected_at": None,  # new or rewritten: the next reflection reads it
                },
                "$setOnInsert": {"created_at": now, "summary_id": None, "summarized_at": None},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
            projection={"_id": 1},
        )
    except DuplicateKeyError:
        log.info("session %s: a newer context is already stored", session_id)
        return ExtractionOutcome(success=True, reason="superseded").model_dump()
    log.info(
        "session %s: %d new context points, %d reinforced",
        session_id, len(new_points), len(reply.extraction.points) - len(new_points),
    )
    await record_graph(db, settings, user_id, str(doc["_id"]), reply.extraction, now)
    await drop_and_rebuild(db, ctx["redis"], settings.redis_timeout_seconds, user_id)
    await enqueue_summary_if_due(ctx, user_id)
    return ExtractionOutcome(success=True, context_id=str(doc["_id"]), reason="extracted").model_dump()
