"""What the coach remembers when it answers, and how memory looks to its owner.

Both use the strength as of now (stored strength decayed by the days since the last
decay run), so what a user reads and what the coach is given agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.memory import current_strength
from shared.models import MemoryDigest, RecalledPoint
from shared.mongo import SESSION_CONTEXTS, SUMMARIES
from shared.settings import Settings

# Recall ranks the points of this many most recently touched contexts: enough to reach back
# well past a summary's worth of sessions, few enough to keep the chat's query small.
RECALL_CONTEXTS = 50


def scored_points(doc: dict[str, Any], strength: float) -> list[dict[str, Any]]:
    return [{**p, "score": strength * p["importance"]} for p in doc.get("context_points", [])]


async def recall(db: Any, user_id: str, settings: Settings, now: datetime | None = None) -> MemoryDigest:
    now = now or datetime.now(UTC)
    rate = settings.memory_decay_rate
    summary = await db[SUMMARIES].find_one({"user_id": user_id, "status": "done"}, {"text": 1}, sort=[("created_at", -1)])
    cursor = db[SESSION_CONTEXTS].find(
        {"user_id": user_id}, {"context_points": 1, "strength": 1, "decayed_at": 1}
    ).sort("updated_at", -1)
    points = [
        point
        for doc in await cursor.to_list(length=RECALL_CONTEXTS)
        for point in scored_points(doc, current_strength(doc["strength"], doc["decayed_at"], now, rate))
    ]
    # sorted() is stable, so among equal scores the newest context's points come first.
    top = sorted(points, key=lambda p: p["score"], reverse=True)[: settings.recall_points]
    return MemoryDigest(
        summary=summary["text"] if summary else None,
        points=[RecalledPoint(kind=p["kind"], content=p["content"]) for p in top],
    )


def context_view(doc: dict[str, Any], now: datetime, rate: float) -> dict[str, Any]:
    strength = current_strength(doc["strength"], doc["decayed_at"], now, rate)
    points = [
        {k: p[k] for k in ("kind", "content", "importance", "mentions", "score") if k in p}
        for p in scored_points(doc, strength)
    ]
    return {
        "id": str(doc["_id"]),
        "session_id": doc["session_id"],
        "points": points,
        "strength": strength,
        "score": max((p["score"] for p in points), default=0.0),
        "model": doc.get("model"),
        "message_count": doc.get("covered", {}).get("message_count"),
        "summary_id": str(doc["summary_id"]) if doc.get("summary_id") else None,
        "created_at": doc["created_at"].isoformat(),
        "updated_at": doc["updated_at"].isoformat(),
    }


def summary_view(doc: dict[str, Any], now: datetime, rate: float) -> dict[str, Any]:
    strength = current_strength(doc["strength"], doc["decayed_at"], now, rate)
    return {
        "id": str(doc["_id"]),
        "text": doc["text"],
        "key_points": doc["key_points"],
        "covered_session_ids": doc["covered_session_ids"],
        "period": {k: v.isoformat() for k, v in doc["period"].items()},
        "strength": strength,
        "score": strength,
        "created_at": doc["created_at"].isoformat(),
    }
