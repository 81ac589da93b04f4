"""Job names and job ids: the whole contract between the service and the worker.

The service enqueues by these names and never imports worker code.
"""

from __future__ import annotations

from datetime import datetime

from shared.settings import Settings

EXTRACT_SESSION_CONTEXT = "extract_session_context"


def extract_job_id(session_id: str, newest_message_id: str | None) -> str:
    """One id per (session, newest message).

    Logout and disconnect of the same session with nothing said in between get the same id,
    so arq runs the extraction once. A session resumed on a new socket that adds messages
    gets a new id, so its later turns are not skipped while arq still keeps the old result.
    """
    return f"{EXTRACT_SESSION_CONTEXT}:{session_id}:{newest_message_id or 'empty'}"

SUMMARIZE_SESSIONS = "summarize_sessions"
DECAY_MEMORIES = "decay_memories"
PRUNE_MEMORIES = "prune_memories"
SWEEP_SESSIONS = "sweep_sessions"


def summary_job_id(user_id: str, summaries_so_far: int) -> str:
    """One id per (user, how many summaries they have): a burst of extractions that all see
    the threshold crossed enqueues one summarization; the next crossing, after that summary
    exists, gets a new id even while arq still keeps the old result."""
    return f"{SUMMARIZE_SESSIONS}:{user_id}:{summaries_so_far}"


# The memory engine (issue 15) ------------------------------------------------------------

GENERATE_REFLECTIONS = "generate_reflections"  # hourly cron: enqueues GENERATE_REFLECTION per due user
GENERATE_REFLECTION = "generate_reflection"  # (user_id, force=False)
DETECT_COMMUNITIES = "detect_communities"  # nightly cron over the users whose graph changed
REBUILD_RECALL_CACHE = "rebuild_recall_cache"  # (user_id)


def reflection_job_id(user_id: str, reflections_so_far: int, contexts_so_far: int) -> str:
    """One id per (user, reflections, contexts): the hourly cron and any number of
    `POST /memory/reflections` for the same state make one reflection; a new context or a
    new reflection makes a new id even while arq still keeps the old result."""
    return f"{GENERATE_REFLECTION}:{user_id}:{reflections_so_far}:{contexts_so_far}"


def rebuild_recall_job_id(user_id: str, now: datetime, *, per_minute: bool = False) -> str:
    """A rebuild after a change gets its own id (a rebuild that started before the change
    must not stand in for it); rebuilds asked for by cache misses share one id a minute."""
    stamp = now.strftime("%Y%m%d%H%M") if per_minute else f"{now.timestamp():.6f}"
    return f"{REBUILD_RECALL_CACHE}:{user_id}:{'miss:' if per_minute else ''}{stamp}"


# -- Queues: chat before background ----------------------------------------------------
# Chat jobs go to their own queue (CHAT_QUEUE_NAME, default arq:queue:chat), drained by
# chat workers (`python -m worker run --chat`, WORKER_CHAT_MAX_JOBS) that never take
# background jobs; so a reply never waits behind a backlog of extractions for a worker
# slot. Every other job stays on QUEUE_NAME. Enqueue with `_queue_name=queue_for(...)`.
GENERATE_REPLY = "generate_reply"
CHAT_JOBS = frozenset({GENERATE_REPLY})


def queue_for(job_name: str, settings: Settings) -> str:
    """The arq queue a job is enqueued on and consumed from."""
    return settings.chat_queue_name if job_name in CHAT_JOBS else settings.queue_name
