"""The `entities` collection: each user's people, goals, habits, events and places.

One document per entity and user: the canonical name (the first spelling seen), its kind,
every other spelling as an alias, the matching keys of all of them, how many extractions
named it, and the newest contexts that did. Resolution (shared/memory/entity_resolution.py) runs
against one user's entities only, so nothing of one user can merge into another's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel
from pymongo import ReturnDocument

from shared.memory.entity_resolution import canonical_key, match_key, resolve_name
from shared.models import EntityNames, ExtractedEntity
from shared.store import entity_merges
from shared.store.mongo import ENTITIES, Database

CONTEXTS_KEPT = 20  # newest contexts an entity remembers it came from
LLM_ALIAS = "llm alias"  # why a merge the model named (shared/memory/llm_aliases.py) was made


class StoredEntity(TypedDict):
    _id: ObjectId
    user_id: str
    key: str  # the key of the first spelling: what concurrent upserts agree on
    keys: list[str]  # keys of the name and every alias: what resolution matches against
    name: str
    kind: str
    aliases: list[str]
    mentions: int
    context_ids: list[str]
    first_seen_at: datetime
    last_seen_at: datetime


class EntityView(BaseModel):
    id: str
    name: str
    kind: str
    aliases: list[str]
    mentions: int
    community: int | None = None


async def record_entities(
    db: Database,
    user_id: str,
    named: list[ExtractedEntity],
    context_id: str,
    now: datetime,
    threshold: float,
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, ObjectId]:
    """Resolve each name against the user's entities and count one mention; returns name -> entity id.

    `aliases`: entity name -> other names the LLM gave it, already checked against the
    session (shared/memory/llm_aliases.py). Here they are checked against the graph: an
    alias that resolves to one of the user's entities is never a reason to join two
    entities. A new name whose alias names exactly one known entity of its kind is that
    entity; an alias no entity has yet becomes the entity's. Each such merge is recorded
    (why: "llm alias"), and a user can split it like any other.
    """
    stored = await db[ENTITIES].find({"user_id": user_id}, {"keys": 1, "kind": 1, "name": 1}).to_list(length=None)
    owners: list[ObjectId] = []
    candidates: dict[int, tuple[str, str]] = {}
    canonical: dict[ObjectId, str] = {}
    for doc in stored:
        canonical[doc["_id"]] = doc.get("name", "")
        for key in doc.get("keys", []):
            candidates[len(owners)] = (key, doc.get("kind", ""))
            owners.append(doc["_id"])
    resolved: dict[str, ObjectId] = {}
    counted: set[ObjectId] = set()
    for entity in named:
        if entity.name in resolved:
            continue
        key = match_key(entity.name)
        said = [(alias, match_key(alias)) for alias in (aliases or {}).get(entity.name, ())]
        match = resolve_name(key, entity.kind, candidates, threshold) or _through_alias(entity, said, candidates, owners)
        if match is not None:
            index, why = match
            entity_id = owners[index]
            if (
                candidates[index][0] != key and (key, entity.kind) not in candidates.values()
            ):  # a name first seen as this entity's
                await entity_merges.record(db, user_id, str(entity_id), entity.name, canonical.get(entity_id, ""), why, now)
            if entity_id not in counted:
                await db[ENTITIES].update_one(
                    {"_id": entity_id, "user_id": user_id},
                    {
                        "$inc": {"mentions": 1},
                        "$set": {"last_seen_at": now},
                        "$push": {"context_ids": {"$each": [context_id], "$slice": -CONTEXTS_KEPT}},
                    },
                )
            # A new spelling is an alias; the canonical name never is one.
            await db[ENTITIES].update_one(
                {"_id": entity_id, "user_id": user_id, "name": {"$ne": entity.name}},
                {"$addToSet": {"aliases": entity.name, "keys": key}},
            )
        else:
            doc = await db[ENTITIES].find_one_and_update(
                {"user_id": user_id, "key": key},
                {
                    "$setOnInsert": {"name": entity.name, "kind": entity.kind, "aliases": [], "first_seen_at": now},
                    "$addToSet": {"keys": key},
                    "$inc": {"mentions": 1},
                    "$set": {"last_seen_at": now},
                    "$push": {"context_ids": {"$each": [context_id], "$slice": -CONTEXTS_KEPT}},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
                projection={"_id": 1, "name": 1},
            )
            entity_id = doc["_id"]
            canonical[entity_id] = doc.get("name", entity.name)
        if (key, entity.kind) not in candidates.values():
            candidates[len(owners)] = (key, entity.kind)
            owners.append(entity_id)
        counted.add(entity_id)
        resolved[entity.name] = entity_id
        for alias, alias_key in said:
            if resolve_name(alias_key, entity.kind, candidates, threshold) is not None:
                continue  # already this entity's name, or another entity's: never joined on the model's word
            why = f"{LLM_ALIAS} ({alias} = {entity.name})"
            await entity_merges.record(db, user_id, str(entity_id), alias, canonical[entity_id], why, now)
            await db[ENTITIES].update_one(
                {"_id": entity_id, "user_id": user_id}, {"$addToSet": {"aliases": alias, "keys": alias_key}}
            )
            candidates[len(owners)] = (alias_key, entity.kind)
            owners.append(entity_id)
            resolved.setdefault(alias, entity_id)  # a relation may name it so
    return resolved


def _through_alias(
    entity: ExtractedEntity, said: list[tuple[str, str]], candidates: Mapping[int, tuple[str, str]], owners: list[ObjectId]
) -> tuple[int, str] | None:
    """A new name is a known entity when its aliases name that one entity exactly (or through
    the alias table), an entity of its own kind, and no other. Spelling alone is not enough
    here: a model's claim on top of a guess is two guesses."""
    found: dict[ObjectId, tuple[int, str]] = {}
    for alias, alias_key in said:
        for index, (key, _) in candidates.items():
            if canonical_key(key) == canonical_key(alias_key):
                found.setdefault(owners[index], (index, alias))
    if len(found) != 1:
        return None  # none, or two entities: which one the model meant is not for us to guess
    [(index, alias)] = found.values()
    if candidates[index][1] != entity.kind:
        return None
    return index, f"{LLM_ALIAS} ({entity.name} = {alias})"


async def user_entities(db: Database, user_id: str) -> list[StoredEntity]:
    cursor = db[ENTITIES].find({"user_id": user_id}).sort([("mentions", -1), ("_id", 1)])
    docs: list[StoredEntity] = await cursor.to_list(length=None)
    return docs


async def entities_of_users(db: Database, user_ids: list[str]) -> dict[str, list[StoredEntity]]:
    """Many users' entities in one query (the nightly community job reads users in batches)."""
    found: dict[str, list[StoredEntity]] = {u: [] for u in user_ids}
    async for doc in db[ENTITIES].find({"user_id": {"$in": user_ids}}, {"name": 1, "mentions": 1, "user_id": 1}):
        found[doc["user_id"]].append(doc)
    return found


async def forget_context(db: Database, user_id: str, context_id: str) -> list[ObjectId]:
    """A deleted context's mentions leave the graph; entities no context names any more go.

    For the delete endpoint that does not exist yet (issue 15, item 5); returns the ids of
    the entities removed, so the caller can drop their relations.
    """
    await db[ENTITIES].update_many(
        {"user_id": user_id, "context_ids": context_id},
        {"$pull": {"context_ids": context_id}, "$inc": {"mentions": -1}},
    )
    orphans = await db[ENTITIES].find({"user_id": user_id, "mentions": {"$lte": 0}}, {"_id": 1}).to_list(length=None)
    if orphans:
        await db[ENTITIES].delete_many({"_id": {"$in": [o["_id"] for o in orphans]}})
    return [o["_id"] for o in orphans]


async def forget_named(db: Database, user_id: str, context_id: str, gone: list[str], kept: list[str]) -> list[ObjectId]:
    """A memory from this context was deleted: the context's mention leaves every entity named
    (by its name or an alias, as words) in what went, `gone`, and in nothing the context still
    holds, `kept`; entities no context names any more go. The ids of those removed."""

    def named_in(doc: dict[str, Any], texts: list[str]) -> bool:
        names = [doc["name"], *doc.get("aliases", [])]
        return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", t, re.IGNORECASE) for n in names for t in texts)

    mentioned = await db[ENTITIES].find({"user_id": user_id, "context_ids": context_id}, {"name": 1, "aliases": 1}).to_list(None)
    named = [d["_id"] for d in mentioned if named_in(d, gone) and not named_in(d, kept)]
    if not named:
        return []
    await db[ENTITIES].update_many({"_id": {"$in": named}}, {"$pull": {"context_ids": context_id}, "$inc": {"mentions": -1}})
    orphans = [
        d["_id"] for d in await db[ENTITIES].find({"_id": {"$in": named}, "mentions": {"$lte": 0}}, {"_id": 1}).to_list(None)
    ]
    if orphans:
        await db[ENTITIES].delete_many({"_id": {"$in": orphans}})
    return orphans


def entity_view(doc: StoredEntity, community: int | None) -> EntityView:
    return EntityView(
        id=str(doc["_id"]),
        name=doc["name"],
        kind=doc["kind"],
        aliases=doc.get("aliases", []),
        mentions=doc["mentions"],
        community=community,
    )


async def names_of(db: Database, user_id: str) -> list[EntityNames]:
    """Every entity of the user by its names: recall looks them up in a message."""
    docs = await db[ENTITIES].find({"user_id": user_id}, {"name": 1, "kind": 1, "aliases": 1}).to_list(length=None)
    return [EntityNames(id=str(d["_id"]), name=d["name"], kind=d["kind"], aliases=d.get("aliases", [])) for d in docs]


async def split_alias(db: Database, user_id: str, entity_id: str, alias: str, now: datetime) -> str | None:
    """Undo a merge: `alias` leaves the entity and becomes an entity of its own (same kind);
    its id, or None if the user has no such entity with that alias."""
    try:
        key_id = ObjectId(entity_id)
    except (InvalidId, TypeError):
        return None
    doc = await db[ENTITIES].find_one_and_update(
        {"_id": key_id, "user_id": user_id, "aliases": alias},
        {"$pull": {"aliases": alias, "keys": match_key(alias)}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        return None
    new = await db[ENTITIES].insert_one(
        {
            "user_id": user_id,
            "key": match_key(alias),
            "keys": [match_key(alias)],
            "name": alias,
            "kind": doc["kind"],
            "aliases": [],
            "mentions": 1,
            "context_ids": [],
            "first_seen_at": now,
            "last_seen_at": now,
        }
    )
    await entity_merges.mark_split(db, user_id, entity_id, alias, now)
    return str(new.inserted_id)
