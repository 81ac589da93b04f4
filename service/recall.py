"""What the coach remembers when it answers: the user's most important stored points."""

from __future__ import annotations

from typing import Any

from shared.models import MemoryDigest, RecalledPoint
from shared.mongo import SESSION_CONTEXTS

RECALL_CONTEXTS = 20


async def recall(db: Any, user_id: str, max_points: int) -> MemoryDigest:
    cursor = db[SESSION_CONTEXTS].find({"user_id": user_id}, {"context_points": 1}).sort("updated_at", -1)
    docs = await cursor.to_list(length=RECALL_CONTEXTS)
    points = [p for doc in docs for p in doc.get("context_points", [])]
    # sorted() is stable, so among equals the newest session's points come first.
    points = sorted(points, key=lambda p: p["importance"], reverse=True)[:max_points]
    return MemoryDigest(points=[RecalledPoint(kind=p["kind"], content=p["content"]) for p in points])
