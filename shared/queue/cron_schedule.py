"""The next run time of a cron job, from its schedule in shared/queue/jobs.py (the admin views show it)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.queue.arq_adapter.job_api import next_run_time
from shared.queue.jobs import CRON_SCHEDULES


def next_run(name: str, now: datetime | None = None) -> datetime:
    return next_run_time(CRON_SCHEDULES[name], now or datetime.now(UTC))
