"""The job contract between the service, the worker, the crons and the CLI: each job's name,
its arguments, its id rule, and the one helper that enqueues it.

The service enqueues through these helpers and never imports worker code; the worker
registers its coroutines under these names (worker/arq_options.py) and its crons on these
schedules. arq refuses a second job with an id it still knows (queued, running or kept
result), which is what each id rule leans on.

| job                       | arguments                              | id                                       |
| ------------------------- | -------------------------------------- | ---------------------------------------- |
| extract_session_context   | user_id, session_id                    | extract_session_context:<session>:<newest message> |
| summarize_sessions        | user_id                                | summarize_sessions:<user>:<summaries so far> |
| decay_memories (cron)     | now (optional, for operators/tests)    | arq's cron id, or cron:<name>:manual:<ms> |
| prune_memories (cron)     | now (optional)                         | as above                                 |
| sweep_sessions (cron)     | now (optional)                         | as above                                 |
| ping                      | none                                   | arq's random id                          |
| generate_reflections (cron) | none                                 | arq's cron id, or cron:<name>:manual:<ms> |
| generate_reflection       | user_id, force                         | generate_reflection:<user>:<reflections>:<contexts> |
| detect_communities (cron) | now (optional)                         | as the other crons                       |
| rebuild_recall_cache      | user_id                                | rebuild_recall_cache:<user>:[miss:]<time> |
| generate_reply (chat queue) | reply_id                             | generate_reply:<reply>                   |
| cleanup_streams (cron)    | now (optional)                         | as the other crons                       |

A dead letter requeued runs as requeue:<dead letter>:<ms> (generate_reply:requeue:... for
a reply, on the chat queue), shared/store/dead_letters.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.process.settings import Settings
from shared.queue.arq_adapter.enqueue import enqueue, enqueue_confirmed
from shared.queue.arq_adapter.pool import QueuePool
from shared.store.messages import newest_message_id
from shared.store.mongo import Database
from shared.store.outbox import enqueue_or_store

EXTRACT_SESSION_CONTEXT = "extract_session_context"
SUMMARIZE_SESSIONS = "summarize_sessions"
DECAY_MEMORIES = "decay_memories"
PRUNE_MEMORIES = "prune_memories"
SWEEP_SESSIONS = "sweep_sessions"
PING = "ping"
# The memory engine (issue 15).
GENERATE_REFLECTIONS = "generate_reflections"  # hourly cron: enqueues GENERATE_REFLECTION per due user
GENERATE_REFLECTION = "generate_reflection"  # (user_id, force=False)
DETECT_COMMUNITIES = "detect_communities"  # nightly cron over the users whose graph changed
REBUILD_RECALL_CACHE = "rebuild_recall_cache"  # (user_id)
# Replies (issue 11): written by the worker, streamed through Redis.
CLEANUP_STREAMS = "cleanup_streams"  # hourly cron: stuck replies failed, expired streams gone

# arq `cron()` keyword arguments; times are UTC (the worker runs crons with timezone=UTC).
CRON_SCHEDULES: dict[str, dict[str, Any]] = {
    DECAY_MEMORIES: {"hour": 2, "minute": 0, "second": 0},
    PRUNE_MEMORIES: {"hour": 3, "minute": 0, "second": 0},
    # Hourly, off the hour so it does not land on the daily crons.
    SWEEP_SESSIONS: {"minute": 17, "second": 0},
    # Hourly at :41, apart from the sweep, whose extractions it then reflects on.
    GENERATE_REFLECTIONS: {"minute": 41, "second": 0},
    # Nightly after decay and prune, so graphs that changed all day are grouped once.
    DETECT_COMMUNITIES: {"hour": 4, "minute": 0, "second": 0},
    # Hourly at :53, clear of the sweep (:17) and the reflections (:41).
    CLEANUP_STREAMS: {"minute": 53, "second": 0},
}
# The crons that take `now` as their one optional argument (time passed in by operators and tests).
TAKES_NOW = frozenset({DECAY_MEMORIES, PRUNE_MEMORIES, SWEEP_SESSIONS, DETECT_COMMUNITIES, CLEANUP_STREAMS})


def extract_job_id(session_id: str, newest_message_id: str | None) -> str:
    """One id per (session, newest message).

    Logout and disconnect of the same session with nothing said in between get the same id,
    so arq runs the extraction once. A session resumed on a new socket that adds messages
    gets a new id, so its later turns are not skipped while arq still keeps the old result.
    """
    return f"{EXTRACT_SESSION_CONTEXT}:{session_id}:{newest_message_id or 'empty'}"


def summary_job_id(user_id: str, summaries_so_far: int) -> str:
    """One id per (user, how many summaries they have): a burst of extractions that all see
    the threshold crossed enqueues one summarization; the next crossing, after that summary
    exists, gets a new id even while arq still keeps the old result."""
    return f"{SUMMARIZE_SESSIONS}:{user_id}:{summaries_so_far}"


def manual_cron_job_id(name: str, now: datetime) -> str:
    """A run-now gets its own id, so it never collides with the scheduled firing's
    (`cron:<name>:<timestamp>`)."""
    return f"cron:{name}:manual:{int(now.timestamp() * 1000)}"


async def enqueue_extraction(
    db: Database, arq: QueuePool, timeout: float, user_id: str, session_id: str, newest_id: str | None = None
) -> str:
    """Enqueue the extraction under the session's job id and return that id: what logout,
    socket close and the session sweep all do.

    With Redis down the job waits in the outbox instead (shared/store/outbox.py). `newest_id`
    saves a query when the caller already knows the session's newest message.
    """
    job_id = extract_job_id(session_id, newest_id or await newest_message_id(db, user_id, session_id))
    await enqueue_or_store(db, arq, timeout, EXTRACT_SESSION_CONTEXT, user_id, session_id, job_id=job_id)
    return job_id


async def enqueue_summary(arq: QueuePool, user_id: str, summaries_so_far: int) -> str:
    """Enqueue the user's next summarization; its job id. Called by the worker only (no outbox:
    a failed enqueue fails the extraction job, which arq retries)."""
    job_id = summary_job_id(user_id, summaries_so_far)
    await enqueue_confirmed(arq, SUMMARIZE_SESSIONS, [user_id], job_id)
    return job_id


async def enqueue_cron_now(arq: QueuePool, name: str, now: datetime) -> str:
    """Run a cron job once, now (the admin API and dashboard); its job id."""
    if name not in CRON_SCHEDULES:
        raise KeyError(name)
    job_id = manual_cron_job_id(name, now)
    await enqueue_confirmed(arq, name, [], job_id)
    return job_id


async def enqueue_by_name(
    arq: QueuePool, settings: Settings, name: str, args: list[Any], now: datetime | None = None
) -> str | None:
    """The operator CLI's `enqueue NAME ARGS...`, on the job's own queue: the job's id, or
    None if the id is taken."""
    extra = [now] if now is not None and name in TAKES_NOW else []
    return await enqueue(arq, name, *args, *extra, queue_name=queue_for(name, settings))


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


async def enqueue_reflection(
    db: Database, arq: QueuePool, timeout: float, user_id: str, job_id: str, *, force: bool = False
) -> str:
    """Enqueue one user's reflection under `job_id` (reflection_job_id, counted by
    shared/store/reflections.py); with Redis down it waits in the outbox. Its id."""
    await enqueue_or_store(db, arq, timeout, GENERATE_REFLECTION, user_id, force, job_id=job_id)
    return job_id


# -- Queues: chat before background ----------------------------------------------------
# Chat jobs go to their own queue (CHAT_QUEUE_NAME, default arq:queue:chat) with their own
# slots (WORKER_CHAT_MAX_JOBS): every worker process drains it beside QUEUE_NAME (unless
# started with `--background`), so a reply never waits behind a backlog of extractions.
GENERATE_REPLY = "generate_reply"
CHAT_JOBS = frozenset({GENERATE_REPLY})


def queue_for(job_name: str, settings: Settings) -> str:
    """The arq queue a job is enqueued on and consumed from."""
    return settings.chat_queue_name if job_name in CHAT_JOBS else settings.queue_name


# Every job name there is: the bounded label set of the job metrics.
ALL_JOBS = frozenset(
    {EXTRACT_SESSION_CONTEXT, SUMMARIZE_SESSIONS, PING, GENERATE_REFLECTION, REBUILD_RECALL_CACHE, *CRON_SCHEDULES, *CHAT_JOBS}
)


def all_queues(settings: Settings) -> tuple[str, str]:
    """Every queue a worker drains: what operators' views and metrics scan."""
    return settings.queue_name, settings.chat_queue_name


def reply_job_id(reply_id: str) -> str:
    """One job per reply: a retry of the POST cannot write the same reply twice."""
    return f"{GENERATE_REPLY}:{reply_id}"


def queue_of_job_id(job_id: str, settings: Settings) -> str:
    """The queue a job id lives on, from its id rule (the job routes look jobs up by id)."""
    return settings.chat_queue_name if job_id.startswith(f"{GENERATE_REPLY}:") else settings.queue_name


async def enqueue_reply(arq: QueuePool, settings: Settings, reply_id: str) -> str:
    """Enqueue the writing of a reply on the chat queue; its job id. No outbox: a reply is
    read from Redis as it is written, so with Redis away there is nothing to wait for and
    the caller says so (503) instead."""
    job_id = reply_job_id(reply_id)
    await enqueue_confirmed(arq, GENERATE_REPLY, [reply_id], job_id, queue_name=settings.chat_queue_name)
    return job_id
