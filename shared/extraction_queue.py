"""Hand a session to `extract_session_context`: what the service (logout, socket close) and
the worker's session sweep both do, under one job id rule."""

from __future__ import annotations

from typing import Any

from shared.jobs import EXTRACT_SESSION_CONTEXT, extract_job_id
from shared.messages import newest_message_id
from shared.outbox import enqueue_or_store


async def enqueue_extraction(
    db: Any, arq: Any, timeout: float, user_id: str, session_id: str, newest_id: str | None = None
) -> str:
    """Enqueue the extraction under the session's job id and return that id.

    arq refuses a second job with an id it still knows (queued, running or kept result),
    so logout, disconnect and the sweep of the same session with nothing said in between
    extract it once. With Redis down the job waits in the outbox instead (shared/outbox.py).
    `newest_id` saves a query when the caller already knows the session's newest message.
    """
    job_id = extract_job_id(session_id, newest_id or await newest_message_id(db, session_id))
    await enqueue_or_store(db, arq, timeout, EXTRACT_SESSION_CONTEXT, user_id, session_id, job_id=job_id)
    return job_id
