"""The `session_contexts` collection: one document per (user, session), the points an extraction
found in it. Every read and write of its fields lives here; the jobs and the routes call these.

A stored context:
    _id, user_id, session_id, context_points[{kind, content, importance, key, mentions,
    first_seen_at, last_seen_at}], covered{first_message_id, last_message_id, last_at,
    message_count}, model, usage, strength, decayed_at, expires_at, created_at, updated_at,
    summary_id (the summary that claimed it), summarized_at (when that summary finished),
    reflected_at (when a reflection last read it; None: not yet), memory_ids (the memories its
    points made or touched, shared/store/memories.py; absent on contexts from before memories),
    forgets (how often the user deleted or corrected what it holds).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.memory.strength import decay_pipeline, point_key
from shared.models import ContextNote, ContextPoint, MemoryDoc, RecalledPoint, SessionDigest
from shared.store import memories
from shared.store.mongo import SESSION_CONTEXTS, Database


class Covered(TypedDict):
    """The messages an extraction read: its watermark."""

    first_message_id: str
    last_message_id: str
    last_at: datetime
    message_count: int


class StoredContext(TypedDict, total=False):
    _id: ObjectId
    user_id: str
    session_id: str
    context_points: list[dict[str, Any]]
    covered: Covered
    model: str
    usage: dict[str, Any]
    strength: float
    decayed_at: datetime
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    summary_id: ObjectId | None
    summarized_at: datetime | None
    reflected_at: datetime | None
    memory_ids: list[str]
    forgets: int  # deletions and corrections of what it holds (note_forgetting); absent: none


def stored_point(point: ContextPoint, now: datetime) -> dict[str, Any]:
    return {
        **point.model_dump(),
        "key": point_key(point.kind, point.content),
        "mentions": 1,
        "first_seen_at": now,
        "last_seen_at": now,
    }


def scored_points(doc: StoredContext, strength: float) -> list[dict[str, Any]]:
    return [{**p, "score": strength * p["importance"]} for p in doc.get("context_points", [])]


async def user_context_keys(db: Database, user_id: str) -> list[dict[str, Any]]:
    """What an extraction needs of the user's contexts (KnownContexts): on the (user_id, session_id) index."""
    fields = {"_id": 1, "session_id": 1, "updated_at": 1, "covered.last_message_id": 1, "context_points.key": 1}
    docs: list[dict[str, Any]] = await db[SESSION_CONTEXTS].find({"user_id": user_id}, fields).to_list(length=None)
    return docs


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _touched(doc: dict[str, Any]) -> datetime:
    touched: datetime = doc.get("updated_at") or EPOCH
    return touched if touched.tzinfo else touched.replace(tzinfo=UTC)


class KnownContexts:
    """What an extraction knows of the user's contexts before the LLM call (one read, see
    shared/memory/extraction_input.py): this session's context and watermark, and which context
    holds each point key of the user's other sessions."""

    def __init__(self, docs: list[dict[str, Any]], session_id: str) -> None:
        own = next((d for d in docs if d.get("session_id") == session_id), None)
        self.context_id: str | None = str(own["_id"]) if own else None
        self.other_sessions = len(docs) - (own is not None)  # how many contexts the user's other sessions have
        self.covered_to: str | None = own["covered"]["last_message_id"] if own and own.get("covered") else None
        # What this session's earlier extraction already found: consolidated then, not again.
        self.own_keys: set[str] = {p["key"] for p in own.get("context_points", []) if "key" in p} if own else set()
        self.holder_of_key: dict[str, ObjectId] = {}
        # Newest first, so a key held by several contexts goes to the newest.
        for doc in sorted((d for d in docs if d.get("session_id") != session_id), key=_touched, reverse=True):
            for point in doc.get("context_points", []):
                self.holder_of_key.setdefault(point["key"], doc["_id"])


async def reinforce_known(db: Database, known: KnownContexts, points: list[ContextPoint], now: datetime) -> list[ContextPoint]:
    """Reinforce the stored copies of `points` from the user's other sessions (keys read before
    the LLM call, so no lookup round trip); return the new ones.

    The stored point's context gets strength 1 again (strength lives on the context, so
    decay and recall stay one server-side update and one query), the point's mention count
    goes up by one and its last-seen time is now. One update per reinforced point.
    """
    keys = {point_key(p.kind, p.content): p for p in points}
    for key in known.holder_of_key.keys() & keys.keys():
        await db[SESSION_CONTEXTS].update_one(
            {"_id": known.holder_of_key[key], "context_points.key": key},
            {
                "$inc": {"context_points.$.mentions": 1},
                "$set": {"context_points.$.last_seen_at": now, "strength": 1.0, "decayed_at": now},
            },
        )
    return [p for key, p in keys.items() if key not in known.holder_of_key]


async def store_extraction(
    db: Database,
    user_id: str,
    session_id: str,
    points: list[ContextPoint],
    covered: Covered,
    model: str,
    usage: dict[str, Any],
    now: datetime,
    expires_at: datetime | None,
) -> tuple[str, bool] | None:
    """Upsert the session's context behind a watermark: (context id, whether it is new), or
    None if superseded.

    The watermark condition keeps a slower run over fewer messages from overwriting a
    newer one: if a newer context is stored the filter misses, the upsert collides with
    the unique (user_id, session_id) index, and this run stands down.
    """
    try:
        doc = await db[SESSION_CONTEXTS].find_one_and_update(
            {
                "user_id": user_id,
                "session_id": session_id,
                "$or": [{"covered.last_at": {"$lt": covered["last_at"]}}, {"covered": {"$exists": False}}],
            },
            {
                "$set": {
                    "context_points": [stored_point(p, now) for p in points],
                    "covered": covered,
                    "model": model,
                    "usage": usage,
                    "strength": 1.0,
                    "decayed_at": now,
                    "expires_at": expires_at,
                    "updated_at": now,
                    "reflected_at": None,  # new or rewritten: the next reflection reads it
                },
                # memory_ids: the memories this session's points made or touched, added to by
                # each extraction of the session (a rewrite keeps the earlier ones).
                "$setOnInsert": {"created_at": now, "summary_id": None, "summarized_at": None, "memory_ids": []},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
            projection={"_id": 1, "created_at": 1},
        )
    except DuplicateKeyError:
        return None
    # New when its created_at is this run's `now` (BSON keeps milliseconds, so compare at that grain).
    return str(doc["_id"]), abs(doc["created_at"] - now) < timedelta(milliseconds=1)


# Summaries claim contexts; see shared/store/summaries.py for the protocol.


async def unsummarized_count(db: Database, user_id: str) -> int:
    count: int = await db[SESSION_CONTEXTS].count_documents({"user_id": user_id, "summary_id": None})
    return count


async def oldest_unclaimed(db: Database, user_id: str, keep_recent: int) -> list[ObjectId]:
    """The ids of the user's unclaimed contexts, oldest first, all but the newest `keep_recent`."""
    cursor = db[SESSION_CONTEXTS].find({"user_id": user_id, "summary_id": None}, {"_id": 1}).sort("created_at", 1)
    candidates = [doc["_id"] for doc in await cursor.to_list(length=None)]
    return candidates[: len(candidates) - keep_recent]


async def claim(db: Database, context_ids: list[ObjectId], summary_id: ObjectId) -> None:
    """Mark the contexts with `summary_id`. The `summary_id: None` filter means two runs can
    never claim the same context."""
    await db[SESSION_CONTEXTS].update_many(
        {"_id": {"$in": context_ids}, "summary_id": None}, {"$set": {"summary_id": summary_id}}
    )


async def claimed_by(db: Database, summary_id: ObjectId) -> list[StoredContext]:
    docs: list[StoredContext] = (
        await db[SESSION_CONTEXTS].find({"summary_id": summary_id}).sort("created_at", 1).to_list(length=None)
    )
    return docs


async def points_now(db: Database, docs: list[StoredContext]) -> dict[ObjectId, list[RecalledPoint]]:
    """Each context's points as memory holds them now (one read): the current text of the
    memories it made or touched, leaving out what was superseded or retracted since; a
    context from before memories were records keeps its own points."""
    current = await memories.active_points(db, [m for d in docs for m in d.get("memory_ids", [])])
    out: dict[ObjectId, list[RecalledPoint]] = {}
    for doc in docs:
        if "memory_ids" in doc:
            texts = [current[m] for m in dict.fromkeys(doc["memory_ids"]) if m in current]
            out[doc["_id"]] = [RecalledPoint(kind=kind, content=content) for kind, content in texts]
        else:
            out[doc["_id"]] = [RecalledPoint(kind=p["kind"], content=p["content"]) for p in doc.get("context_points", [])]
    return out


async def digests(db: Database, contexts: list[StoredContext]) -> list[SessionDigest]:
    points = await points_now(db, contexts)
    return [SessionDigest(session_id=c["session_id"], created_at=c["created_at"], points=points[c["_id"]]) for c in contexts]


async def mark_summarized(db: Database, summary_id: ObjectId, done: datetime) -> None:
    """Only now do decay and prune treat these contexts as safe to delete."""
    await db[SESSION_CONTEXTS].update_many({"summary_id": summary_id}, {"$set": {"summarized_at": done}})


# Reflections read contexts and mark them read (shared/store/reflections.py).


async def count_for_user(db: Database, user_id: str) -> int:
    count: int = await db[SESSION_CONTEXTS].count_documents({"user_id": user_id})
    return count


async def users_with_unreflected(db: Database, min_new: int, limit: int) -> list[str]:
    """Users with at least `min_new` contexts no reflection has read yet."""
    pipeline: list[dict[str, Any]] = [
        {"$match": {"reflected_at": None}},
        {"$group": {"_id": "$user_id", "new": {"$sum": 1}}},
        {"$match": {"new": {"$gte": min_new}}},
        {"$sort": {"_id": 1}},
        {"$limit": limit},
    ]
    return [doc["_id"] async for doc in db[SESSION_CONTEXTS].aggregate(pipeline)]


async def notes_to_reflect_on(db: Database, user_id: str, limit: int) -> tuple[list[ContextNote], int, dict[ObjectId, int]]:
    """The user's newest `limit` contexts, oldest first, how many of them are unread, and their
    `forgets` marks as they were before their memory was read (see `note_forgetting`)."""
    fields = {"context_points": 1, "memory_ids": 1, "created_at": 1, "reflected_at": 1, "forgets": 1}
    docs = list(reversed(await db[SESSION_CONTEXTS].find({"user_id": user_id}, fields).sort("updated_at", -1).to_list(limit)))
    points = await points_now(db, docs)
    notes = [ContextNote(id=str(d["_id"]), created_at=d["created_at"], points=points[d["_id"]]) for d in docs]
    return notes, sum(1 for d in docs if d.get("reflected_at") is None), {d["_id"]: d.get("forgets", 0) for d in docs}


async def mark_reflected(db: Database, user_id: str, context_ids: list[ObjectId], when: datetime | None) -> None:
    """`when` None: read by no reflection (what one drew from them was withdrawn)."""
    await db[SESSION_CONTEXTS].update_many({"_id": {"$in": context_ids}, "user_id": user_id}, {"$set": {"reflected_at": when}})


async def unclaim(db: Database, user_id: str, summary_ids: list[ObjectId]) -> None:
    """The contexts of withdrawn summaries wait for the next summary again."""
    claimed = {"user_id": user_id, "summary_id": {"$in": summary_ids}}
    await db[SESSION_CONTEXTS].update_many(claimed, {"$set": {"summary_id": None, "summarized_at": None}})


# The memory crons: each a server-side statement, whatever the number of documents.


async def decay(db: Database, rate: float, now: datetime) -> int:
    result = await db[SESSION_CONTEXTS].update_many({"decayed_at": {"$lt": now}}, decay_pipeline(rate, now))
    return int(result.modified_count)


async def delete_expired(db: Database, now: datetime) -> int:
    result = await db[SESSION_CONTEXTS].delete_many({"expires_at": {"$lte": now}})
    return int(result.deleted_count)


async def delete_faded(db: Database, floor: float) -> int:
    """A faded context may go once a finished summary holds what it said; never before."""
    result = await db[SESSION_CONTEXTS].delete_many({"strength": {"$lt": floor}, "summarized_at": {"$ne": None}})
    return int(result.deleted_count)


async def users_with_summarized_before(db: Database, cutoff: datetime) -> list[str]:
    users: list[str] = await db[SESSION_CONTEXTS].distinct(
        "user_id", {"created_at": {"$lt": cutoff}, "summarized_at": {"$ne": None}}
    )
    return users


async def prune_summarized_before(db: Database, cutoff: datetime) -> int:
    result = await db[SESSION_CONTEXTS].delete_many({"created_at": {"$lt": cutoff}, "summarized_at": {"$ne": None}})
    return int(result.deleted_count)


async def watermarks(db: Database, user_ids: list[str], session_ids: list[str]) -> list[tuple[str, datetime]]:
    """(session id, time of the last message covered) of the given sessions' contexts; the sweep reads these."""
    query = {"user_id": {"$in": user_ids}, "session_id": {"$in": session_ids}}
    docs = await db[SESSION_CONTEXTS].find(query, {"session_id": 1, "covered.last_at": 1}).to_list(length=None)
    return [(d["session_id"], d["covered"]["last_at"]) for d in docs if d.get("covered", {}).get("last_at") is not None]


# Reading memory back.


async def set_memory_ids(db: Database, context_id: str, memory_ids: list[str]) -> None:
    """What the context's extraction found, by reference: the memories (shared/store/memories.py) it made or touched."""
    await db[SESSION_CONTEXTS].update_one({"_id": ObjectId(context_id)}, {"$addToSet": {"memory_ids": {"$each": memory_ids}}})


async def memory_documents(db: Database, user_id: str) -> list[MemoryDoc]:
    """The points of the user's contexts written before memories were records of their own
    (no `memory_ids`; `python -m worker migrate` moves them), as recall ranks them."""
    fields = {"context_points": 1, "strength": 1, "decayed_at": 1, "session_id": 1, "covered.last_at": 1, "created_at": 1}
    query = {"user_id": user_id, "memory_ids": {"$exists": False}}
    docs: list[StoredContext] = await db[SESSION_CONTEXTS].find(query, fields).to_list(length=None)
    return [
        MemoryDoc(
            id=f"p:{doc['_id']}:{p.get('key') or point_key(p['kind'], p['content'])}",
            source="point",
            kind=p["kind"],
            content=p["content"],
            importance=p["importance"],
            strength=doc["strength"],
            decayed_at=doc["decayed_at"],
            session_id=doc["session_id"],
            said_at=doc.get("covered", {}).get("last_at") or doc.get("created_at"),
        )
        for doc in docs
        for p in doc.get("context_points", [])
    ]


# -- forgetting on request (shared/memory/forget.py orchestrates) ------------------------------------


def context_oid(context_id: str) -> ObjectId | None:
    """Context ids are ObjectIds; anything else names no context (and is not an error)."""
    try:
        return ObjectId(context_id)
    except (InvalidId, TypeError):
        return None


async def remove_point(db: Database, user_id: str, context_id: str, key: str) -> bool:
    """Pull one point (by key) from one of the user's contexts. False if there was none."""
    oid = context_oid(context_id)
    if oid is None:
        return False
    result = await db[SESSION_CONTEXTS].update_one(
        {"_id": oid, "user_id": user_id, "context_points.key": key}, {"$pull": {"context_points": {"key": key}}}
    )
    return result.modified_count > 0


async def note_forgetting(db: Database, user_id: str, context_ids: list[ObjectId]) -> None:
    """What these contexts hold was deleted or corrected: a summary or reflection of them in flight sees it."""
    await db[SESSION_CONTEXTS].update_many({"_id": {"$in": context_ids}, "user_id": user_id}, {"$inc": {"forgets": 1}})


async def forget_marks(db: Database, user_id: str, context_ids: list[ObjectId]) -> dict[ObjectId, int]:
    """Each context's `forgets` count (a deleted context is missing)."""
    docs = await db[SESSION_CONTEXTS].find({"_id": {"$in": context_ids}, "user_id": user_id}, {"forgets": 1}).to_list(None)
    return {d["_id"]: d.get("forgets", 0) for d in docs}


async def reword_point(db: Database, user_id: str, context_id: str, keys: set[str], kind: str, content: str) -> None:
    """The point with one of `keys` in this context takes the user's corrected words."""
    oid = context_oid(context_id)
    if oid is None:
        return
    new = {"context_points.$.kind": kind, "context_points.$.content": content, "context_points.$.key": point_key(kind, content)}
    await db[SESSION_CONTEXTS].update_one(
        {"_id": oid, "user_id": user_id, "context_points.key": {"$in": sorted(keys)}}, {"$set": new}
    )


async def point_texts(db: Database, user_id: str, context_id: str) -> list[str]:
    """What one of the user's contexts still holds, its points' words."""
    doc = await db[SESSION_CONTEXTS].find_one({"_id": context_oid(context_id), "user_id": user_id}, {"context_points": 1})
    return [p["content"] for p in (doc or {}).get("context_points", [])]


async def delete_context(db: Database, user_id: str, context_id: str) -> str | None:
    """Delete one of the user's contexts; its session id, or None if there was none."""
    oid = context_oid(context_id)
    if oid is None:
        return None
    doc = await db[SESSION_CONTEXTS].find_one_and_delete({"_id": oid, "user_id": user_id}, {"session_id": 1})
    return None if doc is None else doc["session_id"]
