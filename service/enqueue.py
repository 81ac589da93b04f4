"""Hand a session to the worker. Returns at once: the LLM runs in the worker, not here."""

from __future__ import annotations

from starlette.datastructures import State

from shared.jobs import EXTRACT_SESSION_CONTEXT, extract_job_id
from shared.messages import newest_message_id
from shared.outbox import enqueue_or_store


async def enqueue_extraction(state: State, user_id: str, session_id: str) -> str:
    """Enqueue `extract_session_context` under the session's job id and return that id.

    arq refuses a second job with an id it still knows (queued, running or kept result),
    so a logout that follows a disconnect, or the reverse, does not extract twice. With
    Redis down the job waits in the outbox instead (see shared/outbox.py).
    """
    job_id = extract_job_id(session_id, await newest_message_id(state.db, session_id))
    timeout = state.settings.redis_timeout_seconds
    await enqueue_or_store(state.db, state.arq, timeout, EXTRACT_SESSION_CONTEXT, user_id, session_id, job_id=job_id)
    return job_id
