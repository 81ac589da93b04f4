"""The coach's replies, one document each in `replies`: the job's record of a reply.

The service creates a reply `queued` when it stores the user's message and enqueues
`generate_reply`; the worker claims it (`generating`), and ends it `done` (with the
assistant message's id, the model, token usage, time to first chunk and total latency),
`failed` (the partial text kept) or `cancelled`. While it is being written the text lives
in its Redis stream (shared/redis_structures/reply_stream.py); the document gets the whole text at the end.

Status moves one way only: queued → generating → done | failed | cancelled. Each write
names the states it may move from, so a cancel racing the worker's finish has one winner.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from shared.models import TokenUsage
from shared.store.mongo import REPLIES, Database

ReplyStatus = Literal["queued", "generating", "done", "failed", "cancelled"]
ACTIVE: tuple[ReplyStatus, ...] = ("queued", "generating")
FINISHED: tuple[ReplyStatus, ...] = ("done", "failed", "cancelled")


class ReplyError(BaseModel):
    code: str
    detail: str


class Reply(BaseModel):
    """A reply as the API shows it (`GET /api/v1/chat/replies/{id}`)."""

    reply_id: str
    status: ReplyStatus
    session_id: str
    conversation_id: str | None = None  # None: written before conversations existed
    message_id: str  # the user's message this answers
    job_id: str
    text: str = ""  # so far, while generating; whole once done; partial when failed
    assistant_message_id: str | None = None
    model: str | None = None
    usage: TokenUsage | None = None
    first_chunk_ms: float | None = None
    latency_ms: float | None = None
    error: ReplyError | None = None
    retried_by: str | None = None  # the reply that answered the same message again (a retry)
    created_at: datetime
    finished_at: datetime | None = None


CANCELLED = {"code": "cancelled", "detail": "the reply was cancelled"}


def new_reply_id() -> str:
    return uuid.uuid4().hex


def _to_reply(doc: dict[str, Any]) -> Reply:
    return Reply(reply_id=doc["_id"], **{k: v for k, v in doc.items() if k in Reply.model_fields and k != "_id"})


async def create_reply(
    db: Database,
    reply_id: str,
    user_id: str,
    session_id: str,
    message_id: str,
    job_id: str,
    now: datetime,
    conversation_id: str | None = None,
) -> None:
    await db[REPLIES].insert_one(
        {
            "_id": reply_id,
            "user_id": user_id,
            "session_id": session_id,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "job_id": job_id,
            "status": "queued",
            "text": "",
            "attempts": 0,
            "created_at": now,
        }
    )


async def delete_reply(db: Database, reply_id: str) -> None:
    """Take back a reply whose job could not be enqueued."""
    await db[REPLIES].delete_one({"_id": reply_id})


async def owned_reply(db: Database, reply_id: str, user_id: str) -> Reply | None:
    """The reply if it is this user's; None for a stranger's and a missing one alike (404 both)."""
    doc = await db[REPLIES].find_one({"_id": reply_id, "user_id": user_id})
    return _to_reply(doc) if doc else None


async def active_replies(db: Database, user_id: str, limit: int = 100) -> list[Reply]:
    cursor = db[REPLIES].find({"user_id": user_id, "status": {"$in": list(ACTIVE)}}).sort("created_at", 1).limit(limit)
    return [_to_reply(doc) for doc in await cursor.to_list(length=limit)]


async def claim_reply(db: Database, reply_id: str, now: datetime) -> dict[str, Any] | None:
    """The worker starts (or, after a crash, resumes) writing: queued|generating → generating.
    None when the reply is already finished (cancelled before the worker got to it, say)."""
    claimed: dict[str, Any] | None = await db[REPLIES].find_one_and_update(
        {"_id": reply_id, "status": {"$in": list(ACTIVE)}},
        {"$set": {"status": "generating", "started_at": now}, "$inc": {"attempts": 1}},
        return_document=True,
    )
    return claimed


async def finish_reply(
    db: Database,
    reply_id: str,
    *,
    text: str,
    assistant_message_id: str,
    model: str,
    usage: TokenUsage,
    first_chunk_ms: float | None,
    latency_ms: float,
    now: datetime,
) -> bool:
    """generating → done. False if it was cancelled meanwhile (the cancel wins)."""
    result = await db[REPLIES].update_one(
        {"_id": reply_id, "status": "generating"},
        {
            "$set": {
                "status": "done",
                "text": text,
                "assistant_message_id": assistant_message_id,
                "model": model,
                "usage": usage.model_dump(),
                "first_chunk_ms": first_chunk_ms,
                "latency_ms": latency_ms,
                "finished_at": now,
            }
        },
    )
    return result.modified_count == 1


async def fail_reply(
    db: Database,
    reply_id: str,
    code: str,
    detail: str,
    now: datetime,
    *,
    text: str | None = None,
    assistant_message_id: str | None = None,
) -> bool:
    """queued|generating → failed, keeping the partial text if any. False if already finished."""
    fields: dict[str, Any] = {"status": "failed", "error": {"code": code, "detail": detail}, "finished_at": now}
    if text is not None:
        fields["text"] = text
    if assistant_message_id is not None:
        fields["assistant_message_id"] = assistant_message_id
    result = await db[REPLIES].update_one({"_id": reply_id, "status": {"$in": list(ACTIVE)}}, {"$set": fields})
    return result.modified_count == 1


async def cancel_reply(db: Database, reply_id: str, user_id: str, now: datetime) -> ReplyStatus | None:
    """queued|generating → cancelled, for its owner: the status it had (None if it had
    already finished). Queued: nobody is writing it, so the caller ends its stream."""
    before = await db[REPLIES].find_one_and_update(
        {"_id": reply_id, "user_id": user_id, "status": {"$in": list(ACTIVE)}},
        {"$set": {"status": "cancelled", "error": CANCELLED, "finished_at": now}},
        projection={"status": 1},
    )
    return before["status"] if before else None


async def keep_cancelled_text(db: Database, reply_id: str, text: str) -> None:
    """What was streamed before the cancel, kept on the cancelled reply."""
    await db[REPLIES].update_one({"_id": reply_id, "status": "cancelled"}, {"$set": {"text": text}})


RETRYABLE: tuple[ReplyStatus, ...] = ("failed", "cancelled")


async def mark_retried(db: Database, reply_id: str, user_id: str, retry_id: str) -> str | None:
    """Mark a failed or cancelled reply as retried by `retry_id`: None when this call marked
    it; else the id of the retry that got there first. Atomic, so two retries make one reply.
    The caller has checked that the reply is its owner's and retryable."""
    before = await db[REPLIES].find_one_and_update(
        {"_id": reply_id, "user_id": user_id, "status": {"$in": list(RETRYABLE)}, "retried_by": None},
        {"$set": {"retried_by": retry_id}},
        projection={"retried_by": 1},
    )
    if before is not None:
        return None
    doc = await db[REPLIES].find_one({"_id": reply_id}, {"retried_by": 1})
    return str(doc["retried_by"]) if doc and doc.get("retried_by") else ""


async def unmark_retried(db: Database, reply_id: str, retry_id: str) -> None:
    """Take back a retry that was refused or could not be enqueued."""
    await db[REPLIES].update_one({"_id": reply_id, "retried_by": retry_id}, {"$set": {"retried_by": None}})


async def status_of(db: Database, reply_id: str) -> ReplyStatus | None:
    doc = await db[REPLIES].find_one({"_id": reply_id}, {"status": 1})
    return doc["status"] if doc else None


async def fail_stuck(db: Database, started_before: datetime, now: datetime) -> list[tuple[str, str]]:
    """Replies still `generating` that started before `started_before` (past every try's time
    limit: their worker is gone) become `failed`; their (reply id, session id) pairs."""
    query = {"status": "generating", "started_at": {"$lt": started_before}}
    stuck = await db[REPLIES].find(query, {"_id": 1, "session_id": 1}).to_list(None)
    if stuck:
        error = {"code": "timed_out", "detail": "the worker writing this reply stopped"}
        await db[REPLIES].update_many(
            {**query, "_id": {"$in": [doc["_id"] for doc in stuck]}},
            {"$set": {"status": "failed", "error": error, "finished_at": now}},
        )
    return [(doc["_id"], doc["session_id"]) for doc in stuck]


async def finished_before(db: Database, reply_ids: list[str], before: datetime) -> set[str]:
    """Of these ids, the replies that finished before `before`, or no longer exist."""
    found = await db[REPLIES].find({"_id": {"$in": reply_ids}}, {"status": 1, "finished_at": 1}).to_list(None)
    keep = {doc["_id"] for doc in found if doc["status"] in ACTIVE or (doc.get("finished_at") and doc["finished_at"] >= before)}
    return set(reply_ids) - keep


async def user_reply_ids(db: Database, user_id: str) -> list[str]:
    """A user's reply ids (account deletion removes their streams too)."""
    return [doc["_id"] for doc in await db[REPLIES].find({"user_id": user_id}, {"_id": 1}).to_list(None)]
