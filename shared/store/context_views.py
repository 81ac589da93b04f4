"""`session_contexts` as its owner reads it in `GET /api/v1/memory`: the API view of the
collection whose reads and writes live in shared/store/contexts.py."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shared.memory.strength import current_strength
from shared.store.contexts import StoredContext, scored_points
from shared.store.mongo import SESSION_CONTEXTS, Database


class ContextPointView(BaseModel):
    key: str | None = None  # names the point in DELETE /api/v1/memory/contexts/{id}/points/{key}
    kind: str
    content: str
    importance: float
    mentions: int | None = None
    last_seen_at: datetime | None = None  # when it was last reinforced
    score: float


class ContextView(BaseModel):
    """A context as its owner reads it in `GET /api/v1/memory`."""

    id: str
    session_id: str
    points: list[ContextPointView]
    strength: float
    score: float
    model: str | None
    message_count: int | None
    summary_id: str | None
    created_at: datetime
    updated_at: datetime


def context_view(doc: StoredContext, now: datetime, rate: float) -> ContextView:
    strength = current_strength(doc["strength"], doc["decayed_at"], now, rate)
    points = [ContextPointView.model_validate(p) for p in scored_points(doc, strength)]
    return ContextView(
        id=str(doc["_id"]),
        session_id=doc["session_id"],
        points=points,
        strength=strength,
        score=max((p.score for p in points), default=0.0),
        model=doc.get("model"),
        message_count=doc.get("covered", {}).get("message_count"),
        summary_id=str(doc["summary_id"]) if doc.get("summary_id") else None,
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


async def context_views(db: Database, user_id: str, now: datetime, rate: float) -> list[ContextView]:
    docs = await db[SESSION_CONTEXTS].find({"user_id": user_id}).sort("updated_at", -1).to_list(length=None)
    return [context_view(doc, now, rate) for doc in docs]
