"""How memory looks to its owner; what the coach remembers (`recall`) lives in shared/recall.py.

Both use the strength as of now (stored strength decayed by the days since the last
decay run), so what a user reads and what the coach is given agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.memory import current_strength
from shared.recall import recall, scored_points

__all__ = ["context_view", "recall", "summary_view"]


def context_view(doc: dict[str, Any], now: datetime, rate: float) -> dict[str, Any]:
    strength = current_strength(doc["strength"], doc["decayed_at"], now, rate)
    points = [
        {k: p[k].isoformat() if k == "last_seen_at" else p[k] for k in ("key", "kind", "content", "importance", "mentions", "last_seen_at", "score") if k in p}
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
