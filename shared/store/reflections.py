"""The `reflections` collection: insights drawn from a user's recent sessions.

A reflection holds a few insights (a pattern, progress on a goal, a suggested next step),
each citing the ids of the session contexts it rests on. It decays and expires like
contexts and summaries (`decay_memories`).

Which contexts a reflection has read is marked on the context (`reflected_at`); an
extraction that stores or rewrites a context clears the mark. That mark, like every other
field of a context, is read and written in shared/store/contexts.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from bson import ObjectId
from pydantic import BaseModel

from shared.memory.strength import current_strength, decay_pipeline, expiry
from shared.models import ContextNote, MemoryDoc, RecalledInsight, ReflectionReply
from shared.queue.jobs import reflection_job_id
from shared.store import contexts
from shared.store.mongo import REFLECTIONS, Database


class StoredInsight(TypedDict):
    kind: str
    text: str
    context_ids: list[str]


class StoredReflection(TypedDict):
    _id: ObjectId
    user_id: str
    insights: list[StoredInsight]
    read_context_ids: list[str]
    model: str
    usage: dict[str, int]
    strength: float
    decayed_at: datetime
    expires_at: datetime | None
    created_at: datetime


class InsightView(BaseModel):
    kind: str
    text: str
    context_ids: list[str]


class ReflectionView(BaseModel):
    id: str
    insights: list[InsightView]
    strength: float
    model: str
    created_at: str


async def next_reflection_job_id(db: Database, user_id: str) -> str:
    """The job id for the user's next reflection (shared/queue/jobs.py: reflection_job_id)."""
    return reflection_job_id(
        user_id,
        await db[REFLECTIONS].count_documents({"user_id": user_id}),
        await contexts.count_for_user(db, user_id),
    )


async def users_due(db: Database, min_new: int, limit: int) -> list[str]:
    """Users with at least `min_new` contexts no reflection has read yet."""
    return await contexts.users_with_unreflected(db, min_new, limit)


async def notes_to_reflect_on(db: Database, user_id: str, limit: int) -> tuple[list[ContextNote], int, dict[ObjectId, int]]:
    """The user's newest `limit` contexts, oldest first, how many are unread, and their forget marks."""
    return await contexts.notes_to_reflect_on(db, user_id, limit)


async def store_reflection(
    db: Database, user_id: str, reply: ReflectionReply, notes: list[ContextNote], now: datetime, ttl_days: int
) -> ObjectId:
    """Insert the reflection, then mark the contexts it read. Citations are de-duplicated."""
    insights = [
        StoredInsight(kind=i.kind, text=i.text, context_ids=list(dict.fromkeys(i.context_ids))) for i in reply.draft.insights
    ]
    doc = {
        "user_id": user_id,
        "insights": insights,
        "read_context_ids": [n.id for n in notes],
        "model": reply.model,
        "usage": reply.usage.model_dump(),
        "strength": 1.0,
        "decayed_at": now,
        "expires_at": expiry(now, ttl_days),
        "created_at": now,
    }
    inserted = await db[REFLECTIONS].insert_one(doc)
    await contexts.mark_reflected(db, user_id, [ObjectId(n.id) for n in notes], now)
    reflection_id: ObjectId = inserted.inserted_id
    return reflection_id


async def drop_insights_citing(db: Database, user_id: str, context_ids: list[str]) -> int:
    """Pull every insight that cites one of these contexts from the user's reflections; how
    many reflections changed."""
    cited = {"context_ids": {"$in": context_ids}}
    result = await db[REFLECTIONS].update_many(
        {"user_id": user_id, "insights": {"$elemMatch": cited}}, {"$pull": {"insights": cited}}
    )
    return int(result.modified_count)


async def user_reflections(db: Database, user_id: str) -> list[StoredReflection]:
    docs: list[StoredReflection] = await db[REFLECTIONS].find({"user_id": user_id}).sort("created_at", -1).to_list(length=None)
    return docs


async def recalled_insights(db: Database, user_id: str, count: int) -> list[RecalledInsight]:
    """The newest reflection's insights, for the coach's prompt."""
    if count == 0:
        return []
    newest = await db[REFLECTIONS].find_one({"user_id": user_id}, {"insights": 1}, sort=[("created_at", -1)])
    return [RecalledInsight(kind=i["kind"], text=i["text"]) for i in (newest["insights"] if newest else [])][:count]


async def memory_documents(db: Database, user_id: str) -> list[MemoryDoc]:
    """The newest reflection's insights as recall documents (older reflections are superseded by it)."""
    newest = await db[REFLECTIONS].find_one({"user_id": user_id}, sort=[("created_at", -1)])
    if newest is None:
        return []
    return [
        MemoryDoc(
            id=f"i:{newest['_id']}:{n}",
            source="insight",
            kind=insight["kind"],
            content=insight["text"],
            importance=0.6,
            strength=newest.get("strength", 1.0),
            decayed_at=newest.get("decayed_at") or newest["created_at"],
            said_at=newest["created_at"],
        )
        for n, insight in enumerate(newest["insights"])
    ]


def reflection_view(doc: StoredReflection, now: datetime, rate: float) -> ReflectionView:
    return ReflectionView(
        id=str(doc["_id"]),
        insights=[InsightView(**i) for i in doc["insights"]],
        strength=current_strength(doc["strength"], doc["decayed_at"], now, rate),
        model=doc["model"],
        created_at=doc["created_at"].isoformat(),
    )


async def decay(db: Database, rate: float, now: datetime) -> int:
    result = await db[REFLECTIONS].update_many({"decayed_at": {"$lt": now}}, decay_pipeline(rate, now))
    return int(result.modified_count)


async def delete_expired(db: Database, now: datetime) -> int:
    result = await db[REFLECTIONS].delete_many({"expires_at": {"$lte": now}})
    return int(result.deleted_count)
