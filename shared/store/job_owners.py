"""Who was handed a job id: the `job_owners` collection.

Every route that hands a job id to a caller records the owner here, so `GET
/api/v1/jobs/{id}` answers that caller and nobody else. Stored in MongoDB, not Redis: a
logout with Redis down still hands out its job id (the enqueue waits in the outbox), and
the caller must be able to follow it once it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict

from motor.motor_asyncio import AsyncIOMotorDatabase

from shared.store.mongo import JOB_OWNERS as JOB_OWNERS  # re-exported: its name lives with the indexes


class JobOwner(TypedDict):
    _id: str  # the job id
    user_id: str
    created_at: datetime


async def record_job_owner(db: AsyncIOMotorDatabase[Any], job_id: str, user_id: str) -> None:
    """Call wherever a job id is handed to a caller. The first owner stays: job ids are
    per session or per request, so a second caller with the same id cannot happen by design,
    and must not take a job over if it did."""
    document: JobOwner = {"_id": job_id, "user_id": user_id, "created_at": datetime.now(UTC)}
    await db[JOB_OWNERS].update_one({"_id": job_id}, {"$setOnInsert": document}, upsert=True)


async def job_owner(db: AsyncIOMotorDatabase[Any], job_id: str) -> str | None:
    found = await db[JOB_OWNERS].find_one({"_id": job_id}, {"user_id": 1})
    return found["user_id"] if found else None
