"""A user's conversations, one document each in `conversations`.

A user keeps several conversations and switches between them; each chat message and reply
names the one it belongs to (`conversation_id`). What the coach remembers stays per user,
across conversations: extraction still reads a session's messages, whichever conversations
they were in. Archiving (`DELETE`) hides a conversation from the list and refuses new
messages in it; its messages stay, in the export too, until the account is deleted.

"The newest" conversation, the default wherever a route or a socket frame names none, is the
one with the latest activity (`updated_at`: created, renamed, or a message sent in it).
A user with none gets one made on their first message. Messages stored before
conversations existed have no `conversation_id`: they are shown in the user's oldest one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel

from shared.store.mongo import CONVERSATIONS, Database

DEFAULT_TITLE = "New conversation"  # until its first message names it (or its owner does)
TITLE_FROM_MESSAGE_CHARS = 40


class Conversation(BaseModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None


def _to_model(doc: dict[str, Any]) -> Conversation:
    return Conversation(
        id=str(doc["_id"]),
        title=doc["title"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        archived_at=doc.get("archived_at"),
    )


def _object_id(conversation_id: str) -> ObjectId | None:
    try:
        return ObjectId(conversation_id)
    except (InvalidId, TypeError):
        return None


async def ensure_conversation_indexes(db: Database) -> None:
    await db[CONVERSATIONS].create_index([("user_id", 1), ("archived_at", 1), ("updated_at", -1)])


async def create_conversation(db: Database, user_id: str, title: str | None, now: datetime | None = None) -> Conversation:
    now = now or datetime.now(UTC)
    doc = {
        "_id": ObjectId(),
        "user_id": user_id,
        "title": title or DEFAULT_TITLE,
        "named": title is not None,
        "created_at": now,
        "updated_at": now,
    }
    await db[CONVERSATIONS].insert_one(doc)
    return _to_model(doc)


async def owned_conversation(db: Database, conversation_id: str, user_id: str) -> Conversation | None:
    """The conversation if it is this user's (archived or not); None for another user's and a
    missing one alike (404 both)."""
    oid = _object_id(conversation_id)
    doc = await db[CONVERSATIONS].find_one({"_id": oid, "user_id": user_id}) if oid else None
    return _to_model(doc) if doc else None


async def newest_conversation(db: Database, user_id: str) -> Conversation | None:
    cursor = db[CONVERSATIONS].find({"user_id": user_id, "archived_at": None}).sort([("updated_at", -1), ("_id", -1)]).limit(1)
    docs = await cursor.to_list(length=1)
    return _to_model(docs[0]) if docs else None


async def list_conversations(db: Database, user_id: str, limit: int, before: datetime | None) -> list[Conversation]:
    """Unarchived, latest activity first; `before`: the page after the one that ended there."""
    query: dict[str, Any] = {"user_id": user_id, "archived_at": None}
    if before is not None:
        query["updated_at"] = {"$lt": before}
    cursor = db[CONVERSATIONS].find(query).sort([("updated_at", -1), ("_id", -1)]).limit(limit)
    return [_to_model(doc) for doc in await cursor.to_list(length=limit)]


async def rename_conversation(db: Database, conversation_id: str, user_id: str, title: str) -> Conversation | None:
    oid = _object_id(conversation_id)
    if oid is None:
        return None
    doc = await db[CONVERSATIONS].find_one_and_update(
        {"_id": oid, "user_id": user_id},
        {"$set": {"title": title, "named": True, "updated_at": datetime.now(UTC)}},
        return_document=True,
    )
    return _to_model(doc) if doc else None


async def archive_conversation(db: Database, conversation_id: str, user_id: str) -> Conversation | None:
    """Archive it (once: archiving again keeps the first time)."""
    oid = _object_id(conversation_id)
    if oid is None:
        return None
    await db[CONVERSATIONS].update_one(
        {"_id": oid, "user_id": user_id, "archived_at": None}, {"$set": {"archived_at": datetime.now(UTC)}}
    )
    return await owned_conversation(db, conversation_id, user_id)


def title_from(content: str) -> str:
    """A title from a first message: its first words, at most TITLE_FROM_MESSAGE_CHARS."""
    words = " ".join(content.split())
    if len(words) <= TITLE_FROM_MESSAGE_CHARS:
        return words
    return words[:TITLE_FROM_MESSAGE_CHARS].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


async def touch_conversation(db: Database, conversation_id: str, now: datetime, content: str) -> None:
    """A message was sent in it: it becomes the newest; an untitled one is named after its first message."""
    oid = ObjectId(conversation_id)
    await db[CONVERSATIONS].update_one({"_id": oid}, {"$max": {"updated_at": now}})
    await db[CONVERSATIONS].update_one(
        {"_id": oid, "title": DEFAULT_TITLE, "named": {"$ne": True}}, {"$set": {"title": title_from(content), "named": True}}
    )


async def is_oldest(db: Database, user_id: str, conversation_id: str) -> bool:
    """Whether this is the user's first conversation (it shows messages from before conversations)."""
    first = await db[CONVERSATIONS].find({"user_id": user_id}, {"_id": 1}).sort("_id", 1).limit(1).to_list(length=1)
    return bool(first) and str(first[0]["_id"]) == conversation_id
