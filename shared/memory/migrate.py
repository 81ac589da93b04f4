"""Moving memory written before memories were records of their own into `memories`.

Contexts stored by the earlier code hold their points inline and have no `memory_ids`.
Each such point becomes a memory (or, when the user already has an active memory with the
same words, one more source of it), keeping its importance, strength, decay time, mention
count and when it was said; the context then lists the memory ids. A context that lists
them is done, so running the migration again changes nothing. Memories written before they
kept the stems of their words get them (`store_missing_terms`), once. Run by `python -m
worker migrate` (worker/migrate_cli.py); safe while the service and workers run: a context
extracted meanwhile is written the new way already.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pydantic import BaseModel

from shared.memory.strength import point_key
from shared.store.memories import Draft, Source, add_many, reinforce_many, store_missing_terms
from shared.store.mongo import MEMORIES, SESSION_CONTEXTS, Database


class MigrationReport(BaseModel):
    contexts: int = 0
    memories_created: int = 0
    memories_reinforced: int = 0
    memories_given_terms: int = 0  # stems stored with memories written without them (shared/store/memories.py)
    users: list[str] = []


async def migrate_contexts(db: Database, batch: int = 500) -> MigrationReport:
    report = MigrationReport()
    users: set[str] = set()
    while True:
        docs = await db[SESSION_CONTEXTS].find({"memory_ids": {"$exists": False}}).sort("created_at", 1).to_list(length=batch)
        if not docs:
            break
        for doc in docs:
            await _migrate_one(db, doc, report)
            users.add(doc["user_id"])
    report.users = sorted(users)
    report.memories_given_terms = await store_missing_terms(db)
    return report


async def _migrate_one(db: Database, doc: dict[str, Any], report: MigrationReport) -> None:
    user_id, context_id = doc["user_id"], str(doc["_id"])
    points = doc.get("context_points", [])
    keys = [p.get("key") or point_key(p["kind"], p["content"]) for p in points]
    existing = (
        await db[MEMORIES].find({"user_id": user_id, "status": "active", "key": {"$in": keys}}, {"key": 1}).to_list(length=None)
    )
    known = {m["key"]: str(m["_id"]) for m in existing}
    source = Source(session_id=doc.get("session_id"), context_id=context_id)
    said_at = (doc.get("covered") or {}).get("last_at") or doc.get("created_at") or datetime.now(UTC)
    decayed_at = doc.get("decayed_at") or said_at
    fresh = [(k, p) for k, p in zip(keys, points, strict=True) if k not in known]
    drafts = [Draft(kind=p["kind"], content=p["content"], importance=p["importance"]) for _, p in fresh]
    made = await add_many(
        db, user_id, drafts, decayed_at, by="extraction", source=source, said_at=said_at, expires_at=doc.get("expires_at")
    )
    # Keep what the context had lived: its strength and mentions, not a fresh start.
    if made:
        await db[MEMORIES].update_many(
            {"_id": {"$in": [ObjectId(m) for m in made]}},
            {"$set": {"strength": doc.get("strength", 1.0), "created_at": doc.get("created_at", said_at)}},
        )
    known.update({k: m for (k, _), m in zip(fresh, made, strict=True)})
    repeated = [known[k] for k in keys if known[k] not in made]
    await reinforce_many(db, user_id, repeated, decayed_at, source)
    await db[SESSION_CONTEXTS].update_one({"_id": doc["_id"]}, {"$set": {"memory_ids": [known[k] for k in keys]}})
    report.contexts += 1
    report.memories_created += len(made)
    report.memories_reinforced += len(repeated)
