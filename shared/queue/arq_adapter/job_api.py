"""What job code and schedules use of arq: `Retry`, cron jobs, a schedule's next run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from arq import Retry, cron
from arq.cron import CronJob, next_cron
from arq.typing import WorkerCoroutine

__all__ = ["CronJob", "Retry", "cron_job", "next_run_time"]


def cron_job(job: Callable[..., Awaitable[Any]], name: str, keep_result_seconds: float, schedule: dict[str, Any]) -> CronJob:
    """A cron job on `schedule` (arq's cron() keywords: hour, minute, second...).

    `unique` (arq's default, spelled out) gives each firing the job id cron:name:timestamp,
    so however many workers share the Redis, each firing runs once."""
    # arq's WorkerCoroutine protocol spells out (ctx, *args, **kwargs); a wrapped job is
    # Callable[..., Awaitable[Any]], which is the same at run time.
    return cron(cast(WorkerCoroutine, job), name=name, unique=True, keep_result=keep_result_seconds, **schedule)


def next_run_time(schedule: dict[str, Any], now: datetime) -> datetime:
    return next_cron(now.astimezone(UTC), **schedule).replace(microsecond=0)
