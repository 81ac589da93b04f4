"""The next run time of a cron job, from its schedule in shared/queue/jobs.py (the admin views show it)."""

from __future__ import annotations

from datetime import UTC, datetime

from arq.cron import next_cron

from shared.queue.jobs import CRON_SCHEDULES


def next_run(name: str, now: datetime | None = None) -> datetime:
    return next_cron((now or datetime.now(UTC)).astimezone(UTC), **CRON_SCHEDULES[name]).replace(microsecond=0)
