"""Reading what arq keeps about a job: its state, its definition, its result.

arq knows a job as queued / deferred / in progress / complete / not found; a complete job
has a result record (success or the exception it raised, start and finish times). These
functions hand back our own types, so nothing outside this package touches arq's Job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from arq.jobs import DeserializationError, Job, JobResult, deserialize_job
from pydantic import BaseModel, ConfigDict

from shared.queue.arq_adapter.pool import QueuePool

ArqState = Literal["queued", "deferred", "in_progress", "complete", "not_found"]
WAITING: frozenset[ArqState] = frozenset({"queued", "deferred"})


class JobRecord(BaseModel):
    """A job's definition, and its result once it finished (`finished`)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    function: str
    enqueue_time: datetime
    job_try: int | None
    job_args: tuple[Any, ...] = ()
    job_kwargs: dict[str, Any] = {}
    finished: bool = False
    success: bool | None = None
    result: Any = None  # the return value, or the exception a failed job raised
    start_time: datetime | None = None
    finish_time: datetime | None = None


class QueuedDefinition(NamedTuple):  # a tuple: the queue scan decodes thousands at once
    function: str
    enqueue_time: datetime


async def job_state(pool: QueuePool, job_id: str, queue_name: str) -> ArqState:
    state: ArqState = (await Job(job_id, pool, _queue_name=queue_name).status()).value
    return state


async def job_record(pool: QueuePool, job_id: str, queue_name: str) -> JobRecord | None:
    info = await Job(job_id, pool, _queue_name=queue_name).info()
    if info is None:
        return None
    record = JobRecord(
        function=info.function,
        enqueue_time=info.enqueue_time,
        job_try=info.job_try,
        args=tuple(info.args),
        kwargs=dict(info.kwargs),
    )
    if isinstance(info, JobResult):
        record.finished, record.success, record.result = True, info.success, info.result
        record.start_time, record.finish_time = info.start_time, info.finish_time
    return record


async def wait_for_result(pool: QueuePool, job_id: str, timeout: float, queue_name: str | None = None) -> Any:
    """The job's return value; raises TimeoutError if it has not finished by then, or the
    job's own exception if it failed. `queue_name`: the pool's default if not given."""
    job = Job(job_id, pool, _queue_name=queue_name or pool.default_queue_name)
    return await job.result(timeout=timeout, poll_delay=0.1)


async def abort_and_wait(pool: QueuePool, job_id: str, queue_name: str, timeout: float) -> None:
    """Ask arq to abort the job (a waiting one never starts, a running one's task is
    cancelled) and wait up to `timeout` for it to end; TimeoutError if it has not."""
    await Job(job_id, pool, _queue_name=queue_name).abort(timeout=timeout, poll_delay=0.05)


def decode_definition(raw: bytes) -> QueuedDefinition | None:
    """A job key's value (keys.job_key), or None if it cannot be read (another serializer)."""
    try:
        job = deserialize_job(raw)
    except DeserializationError:
        return None
    return QueuedDefinition(job.function, job.enqueue_time)
