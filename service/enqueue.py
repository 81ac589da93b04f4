"""Hand a session to the worker. Returns at once: the LLM runs in the worker, not here."""

from __future__ import annotations

from service.resources import ServiceResources
from shared.queue import jobs


async def enqueue_extraction(state: ServiceResources, user_id: str, session_id: str) -> str:
    """Enqueue `extract_session_context` under the session's job id and return that id
    (see shared/queue/jobs.py: one id per session and newest message)."""
    return await jobs.enqueue_extraction(state.db, state.arq, state.settings.redis_timeout_seconds, user_id, session_id)
