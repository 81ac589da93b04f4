"""A user's whole account: everything stored about them, to download, or to delete.

Each collection that holds a user's data keys it by `user_id` (the `users` document by its
`_id`); the list below is the one place that names them all, so export and deletion cannot
disagree about what "all my data" means. A test (tests/test_account.py) fills every one of
them and checks both directions, so a new per-user collection that is not listed here fails.

Deletion order matters for the tokens: sessions are revoked first (the tokens die with
them, on every service process, because authentication reads `sessions`), then the data
goes, and the `users` document last, so a crash half-way leaves an account that can be
deleted again rather than orphaned data with no owner to ask.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pydantic import BaseModel

from shared.process.settings import Settings
from shared.queue.arq_adapter.control import drop_definitions, request_abort
from shared.queue.arq_adapter.pool import QueuePool
from shared.queue.jobs import queue_of_job_id
from shared.redis_structures import recall_index
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store import context_counters, sessions, users
from shared.store.job_owners import JOB_OWNERS
from shared.store.llm_usage import LLM_USAGE
from shared.store.mongo import (
    CHAT_MESSAGES,
    COMMUNITIES,
    CONTEXT_COUNTERS,
    CONVERSATIONS,
    EMPTY_EXTRACTIONS,
    ENTITIES,
    ENTITY_MERGES,
    MEMORIES,
    MEMORY_VECTORS,
    OUTBOX,
    REFLECTIONS,
    RELATIONS,
    REPLIES,
    SESSION_CONTEXTS,
    SESSIONS,
    SUMMARIES,
    USERS,
)
from shared.store.replies import user_reply_ids

log = logging.getLogger(__name__)

# Every collection holding the user's data by `user_id`, in deletion order.
USER_COLLECTIONS = (
    SESSIONS,
    CONVERSATIONS,
    ENTITY_MERGES,
    MEMORIES,
    MEMORY_VECTORS,
    CHAT_MESSAGES,
    REPLIES,
    SESSION_CONTEXTS,
    SUMMARIES,
    EMPTY_EXTRACTIONS,
    REFLECTIONS,
    ENTITIES,
    RELATIONS,
    COMMUNITIES,
    CONTEXT_COUNTERS,
    LLM_USAGE,
    JOB_OWNERS,
)
# Kept out of the download: secrets, and bookkeeping that says nothing about the person.
NOT_EXPORTED = {EMPTY_EXTRACTIONS, JOB_OWNERS, MEMORY_VECTORS}  # bookkeeping and derived vectors, not what the user said


class AccountExport(BaseModel):
    """`GET /api/v1/account/export`: the user's record and every stored document, by collection."""

    exported_at: datetime
    user: dict[str, Any]
    collections: dict[str, list[dict[str, Any]]]


class AccountDeleted(BaseModel):
    """`DELETE /api/v1/account`: how many documents went from each collection, and the queued jobs cancelled."""

    deleted: dict[str, int]
    jobs_cancelled: int


def plain(value: Any) -> Any:
    """BSON to JSON-ready values (ObjectIds and datetimes as strings)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


async def export_account(db: AsyncIOMotorDatabase[Any], user_id: str) -> AccountExport | None:
    user = await users.exported_user(db, user_id)
    if user is None:
        return None
    collections = {
        name: [plain(doc) for doc in await db[name].find({"user_id": user_id}).to_list(length=None)]
        for name in USER_COLLECTIONS
        if name not in NOT_EXPORTED
    }
    return AccountExport(exported_at=datetime.now(UTC), user=plain(user), collections=collections)


async def cancel_queued_jobs(db: AsyncIOMotorDatabase[Any], arq: QueuePool, settings: Settings, user_id: str) -> int:
    """Take the user's waiting jobs off the queue and out of the outbox; ask arq to abort any
    already running. A job enqueued without an owner record (a cron's) is not the user's."""
    job_ids = [doc["_id"] for doc in await db[JOB_OWNERS].find({"user_id": user_id}, {"_id": 1}).to_list(length=None)]
    outboxed = await db[OUTBOX].delete_many({"$or": [{"_id": {"$in": job_ids}}, {"args.0": user_id}]})
    removed = 0
    try:
        async with asyncio.timeout(settings.redis_timeout_seconds):
            # The recall index holds the user's memory: it goes whether or not jobs do.
            await recall_index.delete_all(arq, user_id)
            if job_ids:
                async with arq.pipeline(transaction=False) as pipe:
                    for job_id in job_ids:
                        pipe.zrem(queue_of_job_id(job_id, settings), job_id)
                    unqueued = await pipe.execute()
                waiting = [job_id for job_id, gone in zip(job_ids, unqueued, strict=True) if gone]
                if waiting:
                    await drop_definitions(arq, waiting)
                # Running ones: arq cancels the task when it sees the id here; waiting ones
                # already left the queue, so this only reaches jobs a worker holds.
                await request_abort(arq, job_ids)
                removed = len(waiting)
    except REDIS_DOWN as exc:
        # The jobs find no user when they run, so they store nothing of theirs; the user's
        # recall index stays until it expires. Said, not swallowed.
        log.warning(
            "account %s deleted with Redis unavailable (%s: %s): %d queued job(s) stay queued (they will find no user) "
            "and its recall index (%s{%s}:*) stays until it expires (RECALL_CACHE_TTL_SECONDS)",
            user_id,
            type(exc).__name__,
            exc,
            len(job_ids),
            recall_index.PREFIX,
            user_id,
        )
    return removed + outboxed.deleted_count


async def delete_account(
    db: AsyncIOMotorDatabase[Any], arq: QueuePool, settings: Settings, user_id: str
) -> tuple[AccountDeleted, list[str], list[str]] | None:
    """What went, the sessions that were open (the caller closes their sockets) and the
    replies that went (the caller deletes their streams)."""
    if await users.find_by_id(db, user_id) is None:
        return None
    now = datetime.now(UTC)
    # Tokens die first: every request re-reads its session, so this ends them everywhere.
    open_sessions = await sessions.revoke_all_open(db, user_id, now)
    cancelled = await cancel_queued_jobs(db, arq, settings, user_id)
    reply_ids = await user_reply_ids(db, user_id)
    deleted = {name: (await db[name].delete_many({"user_id": user_id})).deleted_count for name in USER_COLLECTIONS}
    deleted[CONTEXT_COUNTERS] = await context_counters.delete_counter(db, user_id)
    deleted[USERS] = await users.delete_user(db, user_id)
    return AccountDeleted(deleted=deleted, jobs_cancelled=cancelled), open_sessions, reply_ids
