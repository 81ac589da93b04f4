"""When each cron job runs: read by the worker (to schedule them) and by the admin views
(to show the next run time and to run one now), so both agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arq.cron import next_cron

from shared.jobs import DECAY_MEMORIES, DETECT_COMMUNITIES, GENERATE_REFLECTIONS, PRUNE_MEMORIES, SWEEP_SESSIONS

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
}


def next_run(name: str, now: datetime | None = None) -> datetime:
    return next_cron((now or datetime.now(UTC)).astimezone(UTC), **CRON_SCHEDULES[name]).replace(microsecond=0)


def manual_cron_job_id(name: str, now: datetime) -> str:
    """A run-now gets its own id, so it never collides with the scheduled firing's
    (`cron:<name>:<timestamp>`)."""
    return f"cron:{name}:manual:{int(now.timestamp() * 1000)}"
