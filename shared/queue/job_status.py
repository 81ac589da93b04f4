"""One job's state, from what arq keeps in Redis plus what we keep beside it.

arq knows queued / deferred / in progress / complete (with `success`) / not found. We add:
`failed` (complete, not successful), `cancelled` (aborted: arq stores a CancelledError as
the result), `dead_lettered` (failed for good and kept in `failed_jobs`), and `queued` for
a job still waiting in the outbox because Redis was down when it was handed out.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Literal

from motor.motor_asyncio import AsyncIOMotorDatabase
from pydantic import BaseModel

from shared.queue.arq_adapter.pool import QueuePool
from shared.queue.arq_adapter.records import job_record, job_state
from shared.store.dead_letters import was_dead_lettered
from shared.store.outbox import in_outbox

Status = Literal["queued", "deferred", "in_progress", "complete", "failed", "dead_lettered", "cancelled", "not_found"]
STATUSES: tuple[Status, ...] = (
    "queued",
    "deferred",
    "in_progress",
    "complete",
    "failed",
    "dead_lettered",
    "cancelled",
    "not_found",
)
FINISHED: frozenset[Status] = frozenset({"complete", "failed", "dead_lettered", "cancelled"})


class JobView(BaseModel):
    job_id: str
    function: str | None
    status: Status
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tries: int | None = None
    result: Any = None  # the job's return value, or the error text of a failed one


def json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


async def read_job(redis: QueuePool, db: AsyncIOMotorDatabase[Any], job_id: str, queue_name: str) -> JobView:
    for _ in range(2):  # a job that finishes between the two reads is read again, once
        status = await job_state(redis, job_id, queue_name)
        if status == "not_found":
            if await in_outbox(db, job_id):
                return JobView(job_id=job_id, function=None, status="queued")
            return JobView(job_id=job_id, function=None, status="not_found")
        info = await job_record(redis, job_id, queue_name)
        if info is not None:
            break
    else:
        # Known to arq but neither defined nor with a result: a job run with no result kept.
        return JobView(job_id=job_id, function=None, status=status)
    view = JobView(job_id=job_id, function=info.function, status=status, enqueued_at=info.enqueue_time, tries=info.job_try)
    if info.finished:
        view.started_at, view.finished_at = info.start_time, info.finish_time
        if info.success:
            view.result = json_safe(info.result)
        elif isinstance(info.result, asyncio.CancelledError):
            view.status, view.result = "cancelled", "cancelled"
        else:
            view.status = "dead_lettered" if await was_dead_lettered(db, job_id) else "failed"
            view.result = f"{type(info.result).__name__}: {info.result}"
    return view
