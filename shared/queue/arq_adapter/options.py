"""The keyword arguments arq's Worker takes, from our settings and job tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC
from typing import Any

from shared.process.settings import Settings
from shared.queue.arq_adapter.job_api import CronJob
from shared.queue.arq_adapter.pool import redis_settings

Hook = Callable[[dict[str, Any]], Awaitable[None]]


def worker_options(
    settings: Settings,
    *,
    functions: Sequence[Callable[..., Awaitable[Any]]],
    cron_jobs: list[CronJob],
    queue_name: str,
    max_jobs: int,
    on_startup: Hook,
    on_shutdown: Hook,
) -> dict[str, Any]:
    return {
        "functions": list(functions),
        "cron_jobs": cron_jobs,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "redis_settings": redis_settings(settings),
        "queue_name": queue_name,
        # Jobs spend their time awaiting the LLM, not the CPU: hundreds fit on one loop.
        "max_jobs": max_jobs,
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
