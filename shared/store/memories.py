"""The `memories` collection: one record per fact the coach remembers, with its life.

A stored memory:
    _id, user_id, kind, content, key (kind + normalised words), importance, strength,
    decayed_at, mentions, status ("active" | "superseded" | "retracted"), superseded_by,
    sources [{session_id, context_id}], said_at (when the user said it), valid_from /
    valid_to (when it holds, where the user said so), created_at, updated_at,
    user_edited_at (the user's own last change), expires_at,
    versions [{content, kind, importance, status, changed_at, changed_by, session_id}],
    terms (the content's stems, as recall counts them) and terms_version

The stems are kept so consolidation can rank a user's memories at every extraction without
tokenising each again (shared/memory/consolidate.py). They are written with the content;
a memory of an earlier version has them computed when read, and stored by `python -m worker
migrate` (`store_missing_terms`).

Every change appends a version, so `history` shows how a memory came to be what it is.
Only `active` memories reach a prompt or a search (shared/memory/documents.py).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal

from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel
from pymongo import ReturnDocument, UpdateOne

from shared.memory.strength import decay_pipeline, point_key
from shared.memory.text import TERMS_VERSION, terms
from shared.models import KnownMemory, MemoryDoc
from shared.store.mongo import MEMORIES, Database

Status = Literal["active", "superseded", "retracted"]
ChangedBy = Literal["user", "extraction", "consolidation"]


class Source(BaseModel):
    """Where a memory came from: the session, and its context when one was stored."""

    session_id: str | None = None
    context_id: str | None = None


class Version(BaseModel):
    content: str
    kind: str
    importance: float
    status: Status
    changed_at: datetime
    changed_by: ChangedBy
    session_id: str | None = None


def oid(memory_id: str) -> ObjectId | None:
    try:
        return ObjectId(memory_id)
    except (InvalidId, TypeError):
        return None


def _day(value: date | None) -> datetime | None:
    """BSON has no date type: a day is stored as its UTC midnight."""
    return None if value is None else datetime.combine(value, time())


def _terms(content: str) -> dict[str, Any]:
    return {"terms": terms(content), "terms_version": TERMS_VERSION}


def stems_of(doc: dict[str, Any]) -> list[str]:
    """A memory's stems: those stored with it, or, written by an earlier version, its content's."""
    stored: list[str] | None = doc.get("terms")
    if stored is not None and doc.get("terms_version") == TERMS_VERSION:
        return stored
    return terms(doc["content"])


def _version(
    content: str, kind: str, importance: float, status: Status, now: datetime, by: ChangedBy, session_id: str | None
) -> dict[str, Any]:
    return Version(
        content=content, kind=kind, importance=importance, status=status, changed_at=now, changed_by=by, session_id=session_id
    ).model_dump()


class Draft(BaseModel):
    kind: str
    content: str
    importance: float
    valid_from: date | None = None
    said_at: datetime | None = None  # when the user said it, where known per memory


def _new_doc(
    user_id: str,
    draft: Draft,
    now: datetime,
    by: ChangedBy,
    source: Source | None,
    said_at: datetime | None,
    expires_at: datetime | None,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "kind": draft.kind,
        "content": draft.content,
        "key": point_key(draft.kind, draft.content),
        **_terms(draft.content),
        "importance": draft.importance,
        "strength": 1.0,
        "decayed_at": now,
        "mentions": 1,
        "status": "active",
        "superseded_by": None,
        "sources": [source.model_dump()] if source else [],
        "said_at": draft.said_at or said_at or now,
        "valid_from": _day(draft.valid_from),
        "valid_to": None,
        "created_at": now,
        "updated_at": now,
        "user_edited_at": now if by == "user" else None,
        "expires_at": expires_at,
        "versions": [
            _version(draft.content, draft.kind, draft.importance, "active", now, by, source.session_id if source else None)
        ],
    }


async def add_many(
    db: Database,
    user_id: str,
    drafts: list[Draft],
    now: datetime,
    *,
    by: ChangedBy,
    source: Source | None = None,
    said_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> list[str]:
    """New memories in one round trip; their ids, in order."""
    if not drafts:
        return []
    result = await db[MEMORIES].insert_many([_new_doc(user_id, d, now, by, source, said_at, expires_at) for d in drafts])
    return [str(i) for i in result.inserted_ids]


async def add(
    db: Database,
    user_id: str,
    kind: str,
    content: str,
    importance: float,
    now: datetime,
    *,
    by: ChangedBy,
    source: Source | None = None,
    said_at: datetime | None = None,
    valid_from: date | None = None,
    expires_at: datetime | None = None,
) -> str:
    doc = _new_doc(
        user_id,
        Draft(kind=kind, content=content, importance=importance, valid_from=valid_from),
        now,
        by,
        source,
        said_at,
        expires_at,
    )
    result = await db[MEMORIES].insert_one(doc)
    return str(result.inserted_id)


async def revise(
    db: Database,
    user_id: str,
    memory_id: str,
    now: datetime,
    *,
    by: ChangedBy,
    content: str | None = None,
    kind: str | None = None,
    importance: float | None = None,
    source: Source | None = None,
    said_at: datetime | None = None,
    valid_from: date | None = None,
) -> bool:
    """A new version of an active memory. False if the user has no such active memory."""
    key = oid(memory_id)
    current = key and await db[MEMORIES].find_one({"_id": key, "user_id": user_id, "status": "active"})
    if not current:
        return False
    content, kind = content or current["content"], kind or current["kind"]
    importance = current["importance"] if importance is None else importance
    fields: dict[str, Any] = {
        "content": content,
        "kind": kind,
        "key": point_key(kind, content),
        **_terms(content),
        "importance": importance,
        "strength": 1.0,
        "decayed_at": now,
        "updated_at": now,
    }
    if said_at is not None:
        fields["said_at"] = said_at
    if content != current["content"] or valid_from is not None:
        # New words bring their own date, or none: a date the old words gave must not stay.
        fields["valid_from"] = _day(valid_from)
    push: dict[str, Any] = {
        "versions": _version(content, kind, importance, "active", now, by, source.session_id if source else None)
    }
    if source:
        push["sources"] = source.model_dump()
    if by == "user":
        fields["user_edited_at"] = now
        if current["key"] != fields["key"]:  # the words the user corrected: an older extraction must not bring them back
            push["replaced_keys"] = current["key"]
    await db[MEMORIES].update_one({"_id": key, "user_id": user_id}, {"$set": fields, "$push": push})
    return True


async def end(
    db: Database,
    user_id: str,
    memory_id: str,
    status: Status,
    now: datetime,
    *,
    by: ChangedBy,
    superseded_by: str | None = None,
    session_id: str | None = None,
) -> bool:
    """Retire an active memory: `superseded` (by another) or `retracted`. It keeps its history."""
    key = oid(memory_id)
    if key is None:
        return False
    doc = await db[MEMORIES].find_one_and_update(
        {"_id": key, "user_id": user_id, "status": "active"},
        {"$set": {"status": status, "superseded_by": superseded_by, "updated_at": now, "valid_to": now}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        return False
    version = _version(doc["content"], doc["kind"], doc["importance"], status, now, by, session_id)
    await db[MEMORIES].update_one(
        {"_id": key}, {"$push": {"versions": version}, **({"$set": {"user_edited_at": now}} if by == "user" else {})}
    )
    return True


async def reinforce_many(db: Database, user_id: str, memory_ids: list[str], now: datetime, source: Source | None) -> None:
    """Each said again, in one round trip (a memory repeated twice in one session counts once)."""
    keys = [k for k in map(oid, memory_ids) if k is not None]
    if not keys:
        return
    update: dict[str, Any] = {"$inc": {"mentions": 1}, "$set": {"strength": 1.0, "decayed_at": now, "updated_at": now}}
    if source:
        update["$addToSet"] = {"sources": source.model_dump()}
    await db[MEMORIES].update_many({"_id": {"$in": keys}, "user_id": user_id, "status": "active"}, update)


async def active_points(db: Database, memory_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Memory id -> (kind, content) of those still active: what summaries and reflections read."""
    keys = [k for k in map(oid, memory_ids) if k is not None]
    found = db[MEMORIES].find({"_id": {"$in": keys}, "status": "active"}, {"kind": 1, "content": 1})
    return {str(d["_id"]): (d["kind"], d["content"]) async for d in found}


async def find(db: Database, user_id: str, memory_id: str) -> dict[str, Any] | None:
    key = oid(memory_id)
    if key is None:
        return None
    doc: dict[str, Any] | None = await db[MEMORIES].find_one({"_id": key, "user_id": user_id})
    return doc


async def active_known(db: Database, user_id: str) -> list[dict[str, Any]]:
    """What consolidation needs: every active memory (id, kind, content, key, the user's last
    change and the words the user corrected away), and every memory the user retracted (its key)."""
    fields = {
        "kind": 1,
        "content": 1,
        "key": 1,
        "terms": 1,
        "terms_version": 1,
        "status": 1,
        "user_edited_at": 1,
        "replaced_keys": 1,
        "sources.session_id": 1,
    }
    query = {"user_id": user_id, "$or": [{"status": "active"}, {"status": "retracted", "user_edited_at": {"$ne": None}}]}
    docs: list[dict[str, Any]] = await db[MEMORIES].find(query, fields).to_list(length=None)
    return docs


async def store_missing_terms(db: Database, batch: int = 500) -> int:
    """Store the stems of every memory written without them (or by another `TERMS_VERSION`);
    how many. In `_id` order, one bulk write per batch; running it again finds nothing to do."""
    done, after = 0, None
    stale = {"terms_version": {"$ne": TERMS_VERSION}}  # missing too
    while True:
        query = stale if after is None else {"$and": [stale, {"_id": {"$gt": after}}]}
        docs = await db[MEMORIES].find(query, {"content": 1}).sort("_id", 1).to_list(length=batch)
        if not docs:
            return done
        await db[MEMORIES].bulk_write([UpdateOne({"_id": d["_id"]}, {"$set": _terms(d["content"])}) for d in docs])
        done += len(docs)
        after = docs[-1]["_id"]


def keys_from_session(known: list[dict[str, Any]], session_id: str) -> set[str]:
    """The words this session already made memories of (whatever the user did to them since)."""
    return {
        key
        for doc in known
        if any(s.get("session_id") == session_id for s in doc.get("sources", []))
        for key in (doc.get("key"), *doc.get("replaced_keys", []))
        if key
    }


def words_the_user_removed(known: list[dict[str, Any]]) -> dict[str, datetime]:
    """Point key -> when the user removed those words: retracted memories, corrected wordings."""
    removed: dict[str, datetime] = {}
    for doc in known:
        edited = doc.get("user_edited_at")
        if edited is None:
            continue
        keys = [*doc.get("replaced_keys", []), *([doc["key"]] if doc.get("status") == "retracted" and "key" in doc else [])]
        for key in keys:
            removed[key] = max(edited, removed.get(key, edited))
    return removed


def known_of(doc: dict[str, Any]) -> KnownMemory:
    return KnownMemory(id=str(doc["_id"]), kind=doc["kind"], content=doc["content"])


async def memory_documents(db: Database, user_id: str) -> list[MemoryDoc]:
    """The user's active memories as recall ranks them."""
    fields = {
        "kind": 1,
        "content": 1,
        "importance": 1,
        "strength": 1,
        "decayed_at": 1,
        "sources": 1,
        "said_at": 1,
        "valid_from": 1,
        "terms": 1,
        "terms_version": 1,
    }
    docs = await db[MEMORIES].find({"user_id": user_id, "status": "active"}, fields).to_list(length=None)
    return [
        MemoryDoc(
            id=f"m:{d['_id']}",
            source="point",
            kind=d["kind"],
            content=d["content"],
            importance=d["importance"],
            strength=d["strength"],
            decayed_at=d["decayed_at"],
            session_id=d["sources"][-1]["session_id"] if d.get("sources") else None,
            said_at=d.get("said_at"),
            valid_from=d["valid_from"].date() if d.get("valid_from") else None,
            terms=stems_of(d),
        )
        for d in docs
    ]


async def retract_from_context(db: Database, user_id: str, context_id: str, key: str | None, now: datetime) -> int:
    """The memories a context's point (or the whole context) made, retracted with it."""
    query: dict[str, Any] = {"user_id": user_id, "status": "active", "sources.context_id": context_id}
    if key is not None:
        query["key"] = key
    ids = [str(d["_id"]) for d in await db[MEMORIES].find(query, {"_id": 1}).to_list(length=None)]
    for memory_id in ids:
        await end(db, user_id, memory_id, "retracted", now, by="user")
    return len(ids)


async def decay(db: Database, rate: float, now: datetime) -> int:
    result = await db[MEMORIES].update_many({"decayed_at": {"$lt": now}, "status": "active"}, decay_pipeline(rate, now))
    return int(result.modified_count)


async def delete_expired(db: Database, now: datetime) -> int:
    result = await db[MEMORIES].delete_many({"expires_at": {"$lte": now}})
    return int(result.deleted_count)
