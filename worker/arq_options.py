"""The worker's arq options, from the settings: what the CLI and the all-in-one both run.

(Not configuration: that is shared/process/settings.py. worker/settings.py only wraps these options
in the class arq's CLI imports.)
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, cast

from arq import cron
from arq.cron import CronJob
from arq.typing import WorkerCoroutine

from shared.process.settings import Settings
from shared.queue.connection import arq_redis_settings
from shared.queue.jobs import (
    CLEANUP_STREAMS,
    CRON_SCHEDULES,
    DECAY_MEMORIES,
    DETECT_COMMUNITIES,
    GENERATE_REFLECTIONS,
    PING,
    PRUNE_MEMORIES,
    SWEEP_SESSIONS,
)
from worker.cleanup_streams import cleanup_streams
from worker.communities import detect_communities
from worker.decay import decay_memories, prune_memories
from worker.extract import extract_session_context
from worker.job_metrics import observe_job
from worker.ping import ping
from worker.recall_cache import rebuild_recall_cache
from worker.reflect import generate_reflection, generate_reflections
from worker.reliability import reliable
from worker.reply import generate_reply
from worker.resources import shutdown, startup
from worker.summarize import summarize_sessions
from worker.sweep import sweep_sessions

FUNCTIONS = [
    reliable(extract_session_context),
    reliable(summarize_sessions),
    # No retry policy (nothing to retry), but counted like every job: the dashboard's
    # "completed (1 h)" and the job list show an operator's ping.
    observe_job(PING, ping),
    reliable(generate_reflection),
    reliable(rebuild_recall_cache),
]
# The chat queue's jobs (shared/queue/jobs.py CHAT_JOBS), run by the chat worker only.
CHAT_FUNCTIONS = [reliable(generate_reply)]


# arq keeps no cron results by default; kept for an hour (arq's default for other jobs),
# a cron run from the dashboard can be followed to its result.
CRON_KEEP_RESULT_SECONDS = 3600


def cron_jobs() -> list[CronJob]:
    """Fresh CronJob objects each call: arq keeps each one's next run time on the object.

    `unique` (arq's default, spelled out) gives each firing the job id name:timestamp, so
    however many workers share the Redis, each schedule runs once.
    """
    # arq's WorkerCoroutine protocol spells out (ctx, *args, **kwargs); our wrapped jobs are
    # Callable[..., Awaitable[Any]], which is the same at run time.
    crons = {
        DECAY_MEMORIES: decay_memories,
        PRUNE_MEMORIES: prune_memories,
        SWEEP_SESSIONS: sweep_sessions,
        GENERATE_REFLECTIONS: generate_reflections,
        DETECT_COMMUNITIES: detect_communities,
        CLEANUP_STREAMS: cleanup_streams,
    }
    return [
        cron(
            cast(WorkerCoroutine, reliable(job)),
            name=name,
            unique=True,
            keep_result=CRON_KEEP_RESULT_SECONDS,
            **CRON_SCHEDULES[name],
        )
        for name, job in crons.items()
    ]


def worker_options(settings: Settings) -> dict[str, Any]:
    return {
        "functions": FUNCTIONS,
        "cron_jobs": cron_jobs(),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": arq_redis_settings(settings),
        "queue_name": settings.queue_name,
        # Jobs spend their time awaiting the LLM, not the CPU: hundreds fit on one loop.
        "max_jobs": settings.worker_max_jobs,
        # `reliable` enforces JOB_TIMEOUT_SECONDS itself and retries; arq's limit, a little
        # longer, is only the backstop.
        "job_timeout": settings.job_timeout_seconds + 10,
        # Our policy decides retries; arq's own cap only stops a job that kills its worker
        # again and again (each pickup counts as a try).
        "max_tries": settings.job_max_tries + 2,
        "poll_delay": settings.worker_poll_delay_seconds,
        # On SIGTERM arq stops taking jobs, lets running ones finish for this long, then
        # cancels them; a cancelled job goes back to the queue for another worker.
        "job_completion_wait": settings.worker_shutdown_grace_seconds,
        # DELETE /api/v1/jobs/{id} aborts through arq: the worker cancels the job's task.
        "allow_abort_jobs": True,
        "timezone": UTC,  # cron hours are UTC whatever the host's zone
        # `arq --check` (the compose health check) reads a key refreshed this often.
        "health_check_interval": 30,
        "ctx": {"settings": settings},
    }


def chat_worker_options(settings: Settings) -> dict[str, Any]:
    """The chat queue's worker: the reply jobs only, its own slots (WORKER_CHAT_MAX_JOBS), no crons.

    Every worker process runs one beside its background worker (worker/resilient.py), or
    alone with `python -m worker run --chat`; background backlogs then cannot hold a reply
    back for a worker slot, and the LLM limiter keeps LLM_CHAT_RESERVED_SHARE for it.
    """
    return {
        **worker_options(settings),
        "functions": CHAT_FUNCTIONS,
        "queue_name": settings.chat_queue_name,
        "max_jobs": settings.worker_chat_max_jobs,
        "cron_jobs": [],
    }
