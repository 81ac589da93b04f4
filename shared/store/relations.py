"""The `relations` collection: edges between one user's entities.

One document per (user, source, target, relation): a weight that counts the extractions
that stated it. Relation labels are kept short and lowercase, so "Trains for" and
"trains for" are one edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict

from bson import ObjectId
from pydantic import BaseModel

from shared.memory.entity_resolution import match_key
from shared.models import ExtractedRelation
from shared.store.mongo import RELATIONS, Database


class StoredRelation(TypedDict):
    _id: ObjectId
    user_id: str
    source_id: ObjectId
    target_id: ObjectId
    relation: str
    weight: int
    first_seen_at: datetime
    last_seen_at: datetime


class RelationView(BaseModel):
    source: str
    target: str
    relation: str
    weight: int


def _endpoint(name: str, resolved: Mapping[str, ObjectId]) -> ObjectId | None:
    """An endpoint is one of the session's entities, by name as given or by its matching key."""
    if name in resolved:
        return resolved[name]
    key = match_key(name)
    return next((entity_id for given, entity_id in resolved.items() if match_key(given) == key), None)


async def record_relations(
    db: Database, user_id: str, stated: list[ExtractedRelation], resolved: Mapping[str, ObjectId], now: datetime
) -> int:
    """Count each relation between two distinct known entities once; returns how many were recorded.

    A relation naming something the session's entity list does not, or an entity with
    itself, is dropped: the graph holds only edges between nodes it has.
    """
    seen: set[tuple[ObjectId, ObjectId, str]] = set()
    for relation in stated:
        source, target = _endpoint(relation.source, resolved), _endpoint(relation.target, resolved)
        label = " ".join(relation.relation.lower().split())
        if source is None or target is None or source == target or (source, target, label) in seen:
            continue
        seen.add((source, target, label))
        await db[RELATIONS].update_one(
            {"user_id": user_id, "source_id": source, "target_id": target, "relation": label},
            {"$inc": {"weight": 1}, "$set": {"last_seen_at": now}, "$setOnInsert": {"first_seen_at": now}},
            upsert=True,
        )
    return len(seen)


async def user_relations(db: Database, user_id: str) -> list[StoredRelation]:
    docs: list[StoredRelation] = await db[RELATIONS].find({"user_id": user_id}).sort("_id", 1).to_list(length=None)
    return docs


async def relations_of_users(db: Database, user_ids: list[str]) -> dict[str, list[StoredRelation]]:
    found: dict[str, list[StoredRelation]] = {u: [] for u in user_ids}
    projection = {"user_id": 1, "source_id": 1, "target_id": 1, "weight": 1}
    async for doc in db[RELATIONS].find({"user_id": {"$in": user_ids}}, projection):
        found[doc["user_id"]].append(doc)
    return found


async def forget_entities(db: Database, user_id: str, entity_ids: list[ObjectId]) -> int:
    """Edges touching removed entities go with them."""
    if not entity_ids:
        return 0
    result = await db[RELATIONS].delete_many(
        {"user_id": user_id, "$or": [{"source_id": {"$in": entity_ids}}, {"target_id": {"$in": entity_ids}}]}
    )
    return int(result.deleted_count)


def relation_view(doc: StoredRelation) -> RelationView:
    return RelationView(
        source=str(doc["source_id"]), target=str(doc["target_id"]), relation=doc["relation"], weight=doc["weight"]
    )
