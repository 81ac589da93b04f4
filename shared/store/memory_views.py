"""The `memories` collection as its owner reads it: a memory's view and a page of them
(`GET /api/v1/memory/points`). The collection's home is shared/store/memories.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from shared.memory.strength import current_strength
from shared.store.memories import Source, Status, oid
from shared.store.mongo import MEMORIES, Database


class MemoryView(BaseModel):
    """A memory as its owner reads it."""

    id: str
    kind: str
    content: str
    importance: float
    strength: float
    status: Status
    superseded_by: str | None
    said_at: datetime | None
    valid_from: date | None
    valid_to: date | None
    mentions: int
    sources: list[Source]
    created_at: datetime
    updated_at: datetime


def view(doc: dict[str, Any], now: datetime, rate: float) -> MemoryView:
    return MemoryView(
        id=str(doc["_id"]),
        kind=doc["kind"],
        content=doc["content"],
        importance=doc["importance"],
        strength=current_strength(doc["strength"], doc["decayed_at"], now, rate),
        status=doc["status"],
        superseded_by=doc.get("superseded_by"),
        said_at=doc.get("said_at"),
        valid_from=doc["valid_from"].date() if doc.get("valid_from") else None,
        valid_to=doc["valid_to"].date() if doc.get("valid_to") else None,
        mentions=doc.get("mentions", 1),
        sources=doc.get("sources", []),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


async def page(
    db: Database, user_id: str, status: Status, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, `limit` at a time; the cursor is the last id of the page before."""
    query: dict[str, Any] = {"user_id": user_id, "status": status}
    after = oid(cursor) if cursor else None
    if after is not None:
        query["_id"] = {"$lt": after}
    docs: list[dict[str, Any]] = await db[MEMORIES].find(query).sort("_id", -1).to_list(length=limit + 1)
    more = len(docs) > limit
    docs = docs[:limit]
    return docs, (str(docs[-1]["_id"]) if more and docs else None)
