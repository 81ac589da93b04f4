"""The `entity_merges` collection: why two names became one entity, and whether a user split them again.

One record per name merged into an entity: the user, the entity, the name merged, the
entity's canonical name, why (the same through the alias table, spelling, a person's name
spelled alike, "llm alias": the model named it another name of the entity), when, by what (`extraction`), and `split_at` once the user undid it
(`POST /api/v1/memory/graph/entities/{id}/split`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.store.mongo import ENTITY_MERGES, Database


class MergeView(BaseModel):
    entity_id: str
    name: str
    into: str
    why: str
    merged_at: datetime
    split_at: datetime | None


async def record(db: Database, user_id: str, entity_id: str, name: str, into: str, why: str, now: datetime) -> None:
    await db[ENTITY_MERGES].insert_one(
        {
            "user_id": user_id,
            "entity_id": entity_id,
            "name": name,
            "into": into,
            "why": why,
            "by": "extraction",
            "merged_at": now,
            "split_at": None,
        }
    )


async def mark_split(db: Database, user_id: str, entity_id: str, name: str, now: datetime) -> None:
    await db[ENTITY_MERGES].update_many(
        {"user_id": user_id, "entity_id": entity_id, "name": name, "split_at": None}, {"$set": {"split_at": now}}
    )


async def merges_of(db: Database, user_id: str) -> list[MergeView]:
    docs: list[dict[str, Any]] = await db[ENTITY_MERGES].find({"user_id": user_id}).sort("merged_at", -1).to_list(length=None)
    return [MergeView(**{k: d.get(k) for k in MergeView.model_fields}) for d in docs]
