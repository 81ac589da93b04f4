"""The `summaries` collection: one document per summary of a user's oldest contexts.

Contexts are claimed before the LLM call: the summary document is inserted as `pending`,
then the contexts still unclaimed are marked with its id (`shared/store/contexts.py`,
`claim`). A run that dies after claiming leaves a pending summary with a lease; the
next run for that user resumes it once the lease has passed, so nothing claimed is stranded.

A stored summary:
    _id, user_id, status ("pending" | "done"), lease_until (while pending), created_at,
    and once done: covered_session_ids, covered_context_ids, period{start, end}, text,
    key_points, model, usage, strength, decayed_at, expires_at.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from bson import ObjectId
from pydantic import BaseModel

from shared.memory.strength import current_strength, decay_pipeline
from shared.models import MemoryDoc
from shared.store.contexts import StoredContext
from shared.store.mongo import SUMMARIES, Database


class Period(TypedDict):
    start: datetime
    end: datetime


class StoredSummary(TypedDict, total=False):
    _id: ObjectId
    user_id: str
    status: Literal["pending", "done", "withdrawn"]
    lease_until: datetime
    created_at: datetime
    covered_session_ids: list[str]
    covered_context_ids: list[ObjectId]
    period: Period
    text: str
    key_points: list[str]
    model: str
    usage: dict[str, Any]
    strength: float
    decayed_at: datetime
    expires_at: datetime | None


class PeriodView(BaseModel):
    start: datetime
    end: datetime


class SummaryView(BaseModel):
    """A finished summary as its owner reads it in `GET /api/v1/memory`."""

    id: str
    text: str
    key_points: list[str]
    covered_session_ids: list[str]
    period: PeriodView
    strength: float
    score: float
    created_at: datetime


async def count_for_user(db: Database, user_id: str) -> int:
    """Every summary the user has had: the summary job's id counts them."""
    count: int = await db[SUMMARIES].count_documents({"user_id": user_id})
    return count


async def resume_pending(db: Database, user_id: str, now: datetime, lease: timedelta) -> ObjectId | None:
    """Take over a pending summary whose lease has passed (its run died); its id, or None."""
    doc = await db[SUMMARIES].find_one_and_update(
        {"user_id": user_id, "status": "pending", "lease_until": {"$lt": now}},
        {"$set": {"lease_until": now + lease}},
        projection={"_id": 1},
    )
    return doc["_id"] if doc else None


async def insert_pending(db: Database, user_id: str, now: datetime, lease: timedelta) -> ObjectId:
    summary_id = ObjectId()
    await db[SUMMARIES].insert_one(
        {"_id": summary_id, "user_id": user_id, "status": "pending", "lease_until": now + lease, "created_at": now}
    )
    return summary_id


async def drop_pending(db: Database, summary_id: ObjectId) -> None:
    await db[SUMMARIES].delete_one({"_id": summary_id, "status": "pending"})


async def finish(
    db: Database,
    summary_id: ObjectId,
    contexts: list[StoredContext],
    text: str,
    key_points: list[str],
    model: str,
    usage: dict[str, Any],
    done: datetime,
    expires_at: datetime | None,
) -> None:
    await db[SUMMARIES].update_one(
        {"_id": summary_id},
        {
            "$set": {
                "status": "done",
                "covered_session_ids": [c["session_id"] for c in contexts],
                "covered_context_ids": [c["_id"] for c in contexts],
                "period": {"start": contexts[0]["created_at"], "end": contexts[-1]["created_at"]},
                "text": text,
                "key_points": key_points,
                "model": model,
                "usage": usage,
                "strength": 1.0,
                "decayed_at": done,
                "expires_at": expires_at,
            },
            "$unset": {"lease_until": ""},
        },
    )


async def withdraw_covering(db: Database, user_id: str, context_ids: list[ObjectId]) -> list[ObjectId]:
    """The user's finished summaries that cover any of these contexts lose their words and are
    `withdrawn` (never read again); their ids. The documents stay: the user's count of
    summaries names the next summary's job (shared/queue/jobs.py), which must not repeat."""
    covering = {"user_id": user_id, "status": "done", "covered_context_ids": {"$in": context_ids}}
    ids = [d["_id"] for d in await db[SUMMARIES].find(covering, {"_id": 1}).to_list(length=None)]
    if ids:
        gone = {"$set": {"status": "withdrawn", "text": "", "key_points": []}}
        await db[SUMMARIES].update_many({"_id": {"$in": ids}, "user_id": user_id}, gone)
    return ids


async def decay(db: Database, rate: float, now: datetime) -> int:
    result = await db[SUMMARIES].update_many({"decayed_at": {"$lt": now}}, decay_pipeline(rate, now))
    return int(result.modified_count)


async def delete_expired(db: Database, now: datetime) -> int:
    result = await db[SUMMARIES].delete_many({"expires_at": {"$lte": now}})
    return int(result.deleted_count)


async def memory_documents(db: Database, user_id: str) -> tuple[list[MemoryDoc], str | None]:
    """The key points of the user's finished summaries as recall documents, and the newest summary's text."""
    fields = {"key_points": 1, "text": 1, "strength": 1, "decayed_at": 1, "period": 1, "created_at": 1}
    done = await db[SUMMARIES].find({"user_id": user_id, "status": "done"}, fields).sort("created_at", -1).to_list(length=None)
    docs = [
        MemoryDoc(
            id=f"s:{d['_id']}:{n}",
            source="summary",
            kind="summary",
            content=point,
            importance=0.5,
            strength=d.get("strength", 1.0),
            decayed_at=d.get("decayed_at") or d["created_at"],
            said_at=d.get("period", {}).get("end"),
        )
        for d in done
        for n, point in enumerate(d.get("key_points", []))
    ]
    return docs, (done[0]["text"] if done else None)


async def latest_text(db: Database, user_id: str) -> str | None:
    doc = await db[SUMMARIES].find_one({"user_id": user_id, "status": "done"}, {"text": 1}, sort=[("created_at", -1)])
    return doc["text"] if doc else None


def summary_view(doc: StoredSummary, now: datetime, rate: float) -> SummaryView:
    strength = current_strength(doc["strength"], doc["decayed_at"], now, rate)
    return SummaryView(
        id=str(doc["_id"]),
        text=doc["text"],
        key_points=doc["key_points"],
        covered_session_ids=doc["covered_session_ids"],
        period=PeriodView(start=doc["period"]["start"], end=doc["period"]["end"]),
        strength=strength,
        score=strength,
        created_at=doc["created_at"],
    )


async def summary_views(db: Database, user_id: str, now: datetime, rate: float) -> list[SummaryView]:
    docs = await db[SUMMARIES].find({"user_id": user_id, "status": "done"}).sort("created_at", -1).to_list(length=None)
    return [summary_view(doc, now, rate) for doc in docs]
