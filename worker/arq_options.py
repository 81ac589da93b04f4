"""The worker's jobs and crons, and the options each of its two workers runs with: what the
CLI and the all-in-one both run.

(Not configuration: that is shared/process/settings.py. The translation into arq's Worker
keywords is shared/queue/arq_adapter/options.py; worker/settings.py only wraps these options
in the class arq's CLI imports.)
"""

from __future__ import annotations

from typing import Any

from shared.process.settings import Settings
from shared.queue.arq_adapter import options
from shared.queue.arq_adapter.job_api import CronJob, cron_job
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
    """Fresh CronJob objects each call: arq keeps each one's next run time on the object."""
    crons = {
        DECAY_MEMORIES: decay_memories,
        PRUNE_MEMORIES: prune_memories,
        SWEEP_SESSIONS: sweep_sessions,
        GENERATE_REFLECTIONS: generate_reflections,
        DETECT_COMMUNITIES: detect_communities,
        CLEANUP_STREAMS: cleanup_streams,
    }
    return [cron_job(reliable(job), name, CRON_KEEP_RESULT_SECONDS, CRON_SCHEDULES[name]) for name, job in crons.items()]


def worker_options(settings: Settings) -> dict[str, Any]:
    """The background queue's worker: every job but the replies, and the crons."""
    return options.worker_options(
        settings,
        functions=FUNCTIONS,
        cron_jobs=cron_jobs(),
        queue_name=settings.queue_name,
        max_jobs=settings.worker_max_jobs,
        on_startup=startup,
        on_shutdown=shutdown,
    )


def chat_worker_options(settings: Settings) -> dict[str, Any]:
    """The chat queue's worker: the reply jobs only, its own slots (WORKER_CHAT_MAX_JOBS), no crons.

    Every worker process runs one beside its background worker (worker/resilient.py), or
    alone with `python -m worker run --chat`; background backlogs then cannot hold a reply
    back for a worker slot, and the LLM limiter keeps LLM_CHAT_RESERVED_SHARE for it.
    """
    return options.worker_options(
        settings,
        functions=CHAT_FUNCTIONS,
        cron_jobs=[],
        queue_name=settings.chat_queue_name,
        max_jobs=settings.worker_chat_max_jobs,
        on_startup=startup,
        on_shutdown=shutdown,
    )
