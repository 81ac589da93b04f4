"""Response models of the job and operations endpoints (listed in service/openapi.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from shared.queue.heartbeats import WorkerStatus
from shared.queue.job_history import MinuteOutcomes
from shared.queue.job_status import JobView
from shared.queue.queue_scan import FunctionQueue
from shared.redis_structures.live_limits import RunTimeLimits
from shared.store.limit_changes import LimitChangeView


class FunctionActivity(FunctionQueue):
    completed_last_hour: int = 0
    failed_last_hour: int = 0


class QueueSection(BaseModel):
    """One arq queue and the functions enqueued on it (shared/queue/jobs.py `queue_for`)."""

    queue_name: str
    kind: Literal["chat", "background"]
    functions: list[FunctionActivity]


class QueueView(BaseModel):
    queue_name: str  # the background queue
    functions: list[FunctionActivity]  # every queue's, together
    queues: list[QueueSection]  # chat first, then background
    dead_letters_open: int
    outbox_size: int


class WorkerList(BaseModel):
    workers: list[WorkerStatus]


class JobList(BaseModel):
    jobs: list[JobView]


class CronView(BaseModel):
    name: str
    schedule: str
    next_run_at: datetime


class CronList(BaseModel):
    crons: list[CronView]


class CronStarted(BaseModel):
    job_id: str


class Activity(BaseModel):
    minutes: list[MinuteOutcomes]


class LimitsView(BaseModel):
    """`GET/PUT /api/v1/admin/limits`."""

    limits: RunTimeLimits  # in force now
    starting: RunTimeLimits  # the environment's, where every process starts
    changes: list[LimitChangeView]  # newest first
