"""Stored-memory documents for tests, with time passed in explicitly (the summary, decay
and recall tests share them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bson import ObjectId

from shared.memory.strength import point_key
from shared.store.mongo import SESSION_CONTEXTS

T0 = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def context_doc(user_id: str, n: int, *, created_at: datetime = T0, strength: float = 1.0, **extra):
    point = {"kind": "goal", "content": f"goal number {n}", "importance": 0.5}
    doc = {
        "_id": ObjectId(),
        "user_id": user_id,
        "session_id": f"{user_id}-s{n:02d}",
        "context_points": [{**point, "key": point_key(point["kind"], point["content"]), "mentions": 1}],
        "covered": {"last_message_id": f"m{n}", "last_at": created_at, "message_count": 2},
        "strength": strength,
        "decayed_at": created_at,
        "expires_at": None,
        "created_at": created_at,
        "updated_at": created_at,
        "summary_id": None,
        "summarized_at": None,
    }
    doc.update(extra)
    return doc


async def add_contexts(db, user_id: str, count: int, start: datetime = T0) -> list[dict]:
    docs = [context_doc(user_id, n, created_at=start + n * timedelta(hours=1)) for n in range(count)]
    await db[SESSION_CONTEXTS].insert_many(docs)
    return docs
