"""Running a finished job again, as an admin asks from the job's row on the dashboard.

A job with an open dead letter is requeued through it (shared/store/dead_letters.py), so the
dead letter is closed when the new run succeeds. Any other failed or cancelled job is
enqueued again with the function and arguments arq kept in its result, under a new id
(`rerun:<old id>:<ms>`) on the queue it came from. Chat replies are not rerun this way: a
reply belongs to its user, who retries it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from shared.process.settings import Settings
from shared.queue.arq_adapter.enqueue import enqueue_confirmed
from shared.queue.arq_adapter.pool import QueuePool
from shared.queue.arq_adapter.records import job_record
from shared.queue.job_status import read_job
from shared.queue.jobs import queue_of_job_id
from shared.store.dead_letters import open_dead_letter_id, requeue
from shared.store.mongo import Database

RERUN_PREFIX = "rerun:"
RERUNNABLE = frozenset({"failed", "cancelled", "dead_lettered"})

Refusal = Literal["chat_job", "not_found", "not_finished_badly", "no_definition"]


def rerun_job_id(job_id: str, now: datetime) -> str:
    return f"{RERUN_PREFIX}{job_id}:{int(now.timestamp() * 1000)}"


async def rerun(db: Database, arq: QueuePool, settings: Settings, job_id: str) -> str | Refusal:
    """The new job's id, or why not."""
    queue = queue_of_job_id(job_id, settings)
    if queue == settings.chat_queue_name:
        return "chat_job"
    dead_letter = await open_dead_letter_id(db, job_id)
    if dead_letter is not None:
        requeued = await requeue(db, arq, settings, dead_letter)
        if requeued is not None:
            return requeued
    view = await read_job(arq, db, job_id, queue)
    if view.status == "not_found":
        return "not_found"
    if view.status not in RERUNNABLE:
        return "not_finished_badly"
    info = await job_record(arq, job_id, queue)
    if info is None:
        return "no_definition"
    new_id = rerun_job_id(job_id, datetime.now(UTC))
    await enqueue_confirmed(arq, info.function, list(info.job_args), new_id, queue_name=queue)
    return new_id
