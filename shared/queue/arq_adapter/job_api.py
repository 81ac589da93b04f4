"""What job code and schedules use of arq: `Retry`, cron jobs, a schedule's next run, and the
keys arq puts in the dict it hands on_startup and every job (`queue_pool_of`, `job_run_of`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from arq import Retry, cron
from arq.cron import CronJob, next_cron
from arq.typing import WorkerCoroutine

from shared.queue.arq_adapter.pool import QueuePool

__all__ = ["CronJob", "JobRun", "Retry", "cron_job", "job_run_of", "next_run_time", "queue_pool_of"]


@dataclass(frozen=True)
class JobRun:
    """Which job this is, and which try of it."""

    job_id: str | None  # None: the job was called outside arq (a test, a bench)
    job_try: int  # 1 on the first pickup; arq counts one more at each
    enqueued_at: datetime | None = None  # when it was enqueued (None outside arq)


def job_run_of(ctx: Mapping[str, Any]) -> JobRun:
    """What arq's Worker.run_job put in this job's ctx (`job_id`, `job_try`, `enqueue_time`)."""
    job_id, job_try, enqueued = ctx.get("job_id"), ctx.get("job_try"), ctx.get("enqueue_time")
    return JobRun(
        job_id=job_id if isinstance(job_id, str) else None,
        job_try=job_try if isinstance(job_try, int) else 1,
        enqueued_at=enqueued if isinstance(enqueued, datetime) else None,
    )


def queue_pool_of(ctx: Mapping[str, Any]) -> QueuePool:
    """The worker's own pool (`redis`), which arq puts in the ctx before calling on_startup."""
    pool = ctx.get("redis")
    if not isinstance(pool, QueuePool):
        raise TypeError(
            f"ctx['redis'] is {type(pool).__name__}, not arq's pool: on_startup runs in an arq Worker, or is handed one"
        )
    return pool


def cron_job(job: Callable[..., Awaitable[Any]], name: str, keep_result_seconds: float, schedule: dict[str, Any]) -> CronJob:
    """A cron job on `schedule` (arq's cron() keywords: hour, minute, second...).

    `unique` (arq's default, spelled out) gives each firing the job id cron:name:timestamp,
    so however many workers share the Redis, each firing runs once."""
    # arq's WorkerCoroutine protocol spells out (ctx, *args, **kwargs); a wrapped job is
    # Callable[..., Awaitable[Any]], which is the same at run time.
    return cron(cast(WorkerCoroutine, job), name=name, unique=True, keep_result=keep_result_seconds, **schedule)


def next_run_time(schedule: dict[str, Any], now: datetime) -> datetime:
    return next_cron(now.astimezone(UTC), **schedule).replace(microsecond=0)
