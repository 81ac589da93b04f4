"""Hand a session to the worker. Returns at once: the LLM runs in the worker, not here."""

from __future__ import annotations

import logging

from starlette.datastructures import State

from shared.jobs import EXTRACT_SESSION_CONTEXT, extract_job_id
from shared.messages import newest_message_id

log = logging.getLogger(__name__)


async def enqueue_extraction(state: State, user_id: str, session_id: str) -> str:
    """Enqueue `extract_session_context` under the session's job id and return that id.

    arq refuses a second job with an id it still knows (queued, running or kept result),
    so a logout that follows a disconnect, or the reverse, does not extract twice.
    """
    job_id = extract_job_id(session_id, await newest_message_id(state.db, session_id))
    job = await state.arq.enqueue_job(EXTRACT_SESSION_CONTEXT, user_id, session_id, _job_id=job_id)
    if job is None:
        log.info("extraction %s already queued or done", job_id)
    return job_id
