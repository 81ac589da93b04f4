"""The `failed_jobs` collection: dead letters, jobs that failed for good, kept until an
operator requeues them. Every read and write of its fields lives here.

Both the worker (which writes them and runs requeues) and the service's admin endpoint
(which lists and requeues) use these functions.

A stored dead letter: _id, function, job_id, args, kwargs, tries, error, failed_at,
requeued_at, requeue_job_id, resolved_at (set when a requeued run succeeds).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel

from shared.process.settings import Settings
from shared.queue.arq_adapter.enqueue import enqueue_confirmed
from shared.queue.arq_adapter.pool import QueuePool
from shared.queue.jobs import CHAT_JOBS, GENERATE_REPLY, queue_for
from shared.store.mongo import FAILED_JOBS, Database

REQUEUE_PREFIX = "requeue:"


def requeue_job_id(dead_letter_id: str) -> str:
    return f"{REQUEUE_PREFIX}{dead_letter_id}"


def dead_letter_of(job_id: str | None) -> ObjectId | None:
    """The dead letter a requeued job came from, if it is one (a chat job's requeue id starts
    with its function, so the job views find it on the chat queue)."""
    if not job_id:
        return None
    job_id = job_id.removeprefix(f"{GENERATE_REPLY}:")
    if not job_id.startswith(REQUEUE_PREFIX):
        return None
    try:
        return ObjectId(job_id.removeprefix(REQUEUE_PREFIX).split(":")[0])
    except InvalidId:
        return None


async def record_dead_letter(
    db: Database,
    function: str,
    job_id: str | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    tries: int,
    error: str,
    now: datetime,
) -> None:
    await db[FAILED_JOBS].insert_one(
        {
            "function": function,
            "job_id": job_id,
            "args": list(args),
            "kwargs": kwargs,
            "tries": tries,
            "error": error,
            "failed_at": now,
            "requeued_at": None,
            "resolved_at": None,
        }
    )


async def resolve(db: Database, dead_letter_id: ObjectId, now: datetime) -> None:
    """A requeued run succeeded: the dead letter is closed."""
    await db[FAILED_JOBS].update_one({"_id": dead_letter_id}, {"$set": {"resolved_at": now}})


async def open_dead_job_ids(db: Database, job_ids: list[str]) -> set[str]:
    """Which of these arq job ids have an open dead letter."""
    cursor = db[FAILED_JOBS].find({"job_id": {"$in": job_ids}, "resolved_at": None}, {"job_id": 1})
    return {doc["job_id"] for doc in await cursor.to_list(length=None)}


# pydantic's mypy plugin makes the field `kwargs` an __init__ parameter beside **kwargs.
class DeadLetterView(BaseModel):  # type: ignore[no-redef]
    """A dead letter as an admin reads it in `GET /api/v1/admin/failed-jobs`."""

    id: str
    function: str
    args: list[Any]
    kwargs: dict[str, Any]
    tries: int
    error: str
    failed_at: datetime
    requeued_at: datetime | None
    resolved_at: datetime | None


async def list_dead_letters(db: Database, include_resolved: bool = False, limit: int = 100) -> list[DeadLetterView]:
    query: dict[str, Any] = {} if include_resolved else {"resolved_at": None}
    docs = await db[FAILED_JOBS].find(query).sort("failed_at", -1).to_list(length=limit)
    return [
        DeadLetterView(
            id=str(d["_id"]),
            function=d["function"],
            args=d["args"],
            kwargs=d.get("kwargs", {}),
            tries=d["tries"],
            error=d["error"],
            failed_at=d["failed_at"],
            requeued_at=d.get("requeued_at"),
            resolved_at=d.get("resolved_at"),
        )
        for d in docs
    ]


async def requeue(db: Database, arq: QueuePool, settings: Settings, dead_letter_id: str) -> str | None:
    """Enqueue the dead job again under a fresh id, on the queue whose workers run it (a
    reply on the chat queue); None if there is no such open dead letter. An enqueue Redis
    did not confirm raises, and the dead letter stays as it was."""
    try:
        oid = ObjectId(dead_letter_id)
    except InvalidId:
        return None
    doc = await db[FAILED_JOBS].find_one({"_id": oid, "resolved_at": None})
    if doc is None:
        return None
    now = datetime.now(UTC)
    # The time in the id lets the same dead letter be requeued again if the retry fails too.
    function = doc["function"]
    job_id = f"{requeue_job_id(dead_letter_id)}:{int(now.timestamp() * 1000)}"
    if function in CHAT_JOBS:  # the id rule queue_of_job_id reads: generate_reply:...
        job_id = f"{function}:{job_id}"
    await enqueue_confirmed(arq, function, doc["args"], job_id, queue_name=queue_for(function, settings))
    await db[FAILED_JOBS].update_one({"_id": oid}, {"$set": {"requeued_at": now, "requeue_job_id": job_id}})
    return job_id


async def requeue_all(db: Database, arq: QueuePool, settings: Settings) -> list[str]:
    ids = [str(d["_id"]) for d in await db[FAILED_JOBS].find({"resolved_at": None}, {"_id": 1}).to_list(length=None)]
    return [job_id for dead in ids if (job_id := await requeue(db, arq, settings, dead))]


async def count_open(db: Database) -> int:
    count: int = await db[FAILED_JOBS].count_documents({"resolved_at": None})
    return count


async def was_dead_lettered(db: Database, job_id: str) -> bool:
    """Did this job (by arq job id) fail for good and land here?"""
    return await db[FAILED_JOBS].find_one({"job_id": job_id}, {"_id": 1}) is not None


async def open_dead_letter_id(db: Database, job_id: str) -> str | None:
    """The open dead letter of an arq job id, if it has one (the dashboard's job rows)."""
    doc = await db[FAILED_JOBS].find_one({"job_id": job_id, "resolved_at": None}, {"_id": 1})
    return str(doc["_id"]) if doc else None
