"""The worker's arq options, from the settings: what the CLI and the all-in-one both run."""

from __future__ import annotations

from typing import Any

from shared.queue import arq_redis_settings
from shared.settings import Settings
from worker.extract import extract_session_context
from worker.lifecycle import shutdown, startup

FUNCTIONS = [extract_session_context]


def worker_options(settings: Settings) -> dict[str, Any]:
    return {
        "functions": FUNCTIONS,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": arq_redis_settings(settings),
        "queue_name": settings.queue_name,
        # Jobs spend their time awaiting the LLM, not the CPU: hundreds fit on one loop.
        "max_jobs": settings.worker_max_jobs,
        # One LLM call (bounded by its own timeout) plus the reads and the write around it.
        "job_timeout": settings.job_timeout_seconds,
        "poll_delay": settings.worker_poll_delay_seconds,
        # `arq --check` (the compose health check) reads a key refreshed this often.
        "health_check_interval": 30,
        "ctx": {"settings": settings},
    }
