"""Reflections: `generate_reflections` (hourly cron) and `generate_reflection(user_id)`.

The cron only finds the users due (at least REFLECTION_MIN_NEW_CONTEXTS contexts no
reflection has read) and enqueues one job each, so each user's LLM call is retried, dead
lettered and spread over workers like any job. `POST /memory/reflections` enqueues the same
job with force=True (one new context is enough) under the same id rule.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from shared.llm.attribution import attribute_llm_calls
from shared.memory import forget
from shared.memory.recall_cache import drop_and_rebuild
from shared.models import ReflectionOutcome
from shared.queue.jobs import enqueue_reflection
from shared.redis_structures.user_events import tell_noted
from shared.store import reflections
from worker.context import job_context

log = logging.getLogger(__name__)


async def generate_reflections(ctx: dict[str, Any]) -> dict[str, Any]:
    resources = job_context(ctx).resources
    db, settings = resources.db, resources.settings
    due = await reflections.users_due(db, settings.reflection_min_new_contexts, settings.reflection_batch)
    for user_id in due:
        job_id = await reflections.next_reflection_job_id(db, user_id)
        await enqueue_reflection(db, resources.redis, settings.redis_timeout_seconds, user_id, job_id)
    log.info("generate_reflections: %d users due", len(due))
    return {"enqueued": len(due)}


async def generate_reflection(ctx: dict[str, Any], user_id: str, force: bool = False) -> dict[str, Any]:
    resources = job_context(ctx).resources
    db, llm, settings = resources.db, resources.llm, resources.settings
    attribute_llm_calls(user_id)  # usage records and the daily budget
    notes, unread, marks = await reflections.notes_to_reflect_on(db, user_id, settings.reflection_contexts)
    if not notes:
        return ReflectionOutcome(success=True, reason="no_contexts").model_dump()
    if unread < (1 if force else settings.reflection_min_new_contexts):
        return ReflectionOutcome(success=True, reason="too_few_new_contexts").model_dump()
    # The provider may cite only these notes' ids (shared/models.py: reflection_output_model).
    reply = await llm.reflect(notes)
    now = datetime.now(UTC)
    reflection_id = await reflections.store_reflection(db, user_id, reply, notes, now, settings.memory_ttl_days)
    if await forget.withdraw_if_forgotten(db, user_id, marks):
        log.info("user %s: reflection %s lost what cites sessions changed while it was written", user_id, reflection_id)
    await drop_and_rebuild(db, resources.redis, settings.redis_timeout_seconds, user_id)
    await tell_noted(resources.user_events, user_id, len(reply.draft.insights), "reflection")
    log.info(
        "user %s: reflection %s, %d insights over %d contexts", user_id, reflection_id, len(reply.draft.insights), len(notes)
    )
    return ReflectionOutcome(
        success=True, reflection_id=str(reflection_id), insights=len(reply.draft.insights), reason="reflected"
    ).model_dump()
