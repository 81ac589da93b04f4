"""Chat messages in MongoDB: the service writes them, the worker reads a session's tail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from shared.models import ChatMessage, Role
from shared.store.mongo import CHAT_MESSAGES, Database


def _to_model(doc: dict[str, Any]) -> ChatMessage:
    return ChatMessage(id=str(doc["_id"]), role=doc["role"], content=doc["content"], timestamp=doc["timestamp"])


async def store_message(
    db: Database,
    user_id: str,
    session_id: str,
    role: Role,
    content: str,
    *,
    reply_id: str | None = None,
    conversation_id: str | None = None,
) -> ChatMessage:
    """`reply_id`: the reply (shared/store/replies.py) this assistant message is the text of; a
    retried reply job finds it there instead of storing the text twice. `conversation_id`:
    the conversation it was said in (shared/store/conversations.py)."""
    doc: dict[str, Any] = {
        "_id": ObjectId(),
        "user_id": user_id,
        "session_id": session_id,
        "role": role,
        "content": content,
        "timestamp": datetime.now(UTC),
    }
    if reply_id is not None:
        doc["reply_id"] = reply_id
    if conversation_id is not None:
        doc["conversation_id"] = conversation_id
    await db[CHAT_MESSAGES].insert_one(doc)
    return _to_model(doc)


async def message_of_reply(db: Database, reply_id: str) -> ChatMessage | None:
    doc = await db[CHAT_MESSAGES].find_one({"reply_id": reply_id})
    return _to_model(doc) if doc else None


async def delete_message(db: Database, message_id: str) -> None:
    await db[CHAT_MESSAGES].delete_one({"_id": ObjectId(message_id)})


async def recent_session_messages(db: Database, user_id: str, session_id: str, limit: int) -> list[ChatMessage]:
    """The user's session's newest `limit` messages, oldest first: on the (session_id, timestamp,
    _id) index; the user too, so a session id never reads another user's words."""
    cursor = (
        db[CHAT_MESSAGES].find({"session_id": session_id, "user_id": user_id}).sort([("timestamp", -1), ("_id", -1)]).limit(limit)
    )
    docs = await cursor.to_list(length=limit)
    return [_to_model(doc) for doc in reversed(docs)]


async def newest_message_id(db: Database, user_id: str, session_id: str) -> str | None:
    latest = await recent_session_messages(db, user_id, session_id, 1)
    return latest[0].id if latest else None


async def recent_user_messages(db: Database, user_id: str, limit: int) -> list[ChatMessage]:
    """The user's newest `limit` messages across sessions, oldest first."""
    cursor = db[CHAT_MESSAGES].find({"user_id": user_id}).sort([("timestamp", -1), ("_id", -1)]).limit(limit)
    docs = await cursor.to_list(length=limit)
    return [_to_model(doc) for doc in reversed(docs)]


async def recent_conversation_messages(
    db: Database, user_id: str, conversation_id: str, limit: int, *, with_unassigned: bool = False
) -> list[ChatMessage]:
    """The conversation's newest `limit` messages, oldest first; `with_unassigned`: also the
    user's messages from before conversations (shown in their oldest conversation)."""
    query: dict[str, Any] = {"user_id": user_id, "conversation_id": conversation_id}
    if with_unassigned:
        query = {"user_id": user_id, "conversation_id": {"$in": [conversation_id, None]}}
    cursor = db[CHAT_MESSAGES].find(query).sort([("timestamp", -1), ("_id", -1)]).limit(limit)
    docs = await cursor.to_list(length=limit)
    return [_to_model(doc) for doc in reversed(docs)]


def recent_sessions_pipeline(since: datetime, min_messages: int) -> list[dict[str, Any]]:
    """One row per session with messages since `since`: its user, newest message, count;
    sessions with fewer than `min_messages` are left out."""
    return [
        {"$match": {"timestamp": {"$gte": since}}},
        {"$sort": {"timestamp": 1, "_id": 1}},
        {
            "$group": {
                "_id": "$session_id",
                "user_id": {"$first": "$user_id"},
                "last_id": {"$last": "$_id"},
                "last_at": {"$last": "$timestamp"},
                "count": {"$sum": 1},
            }
        },
        {"$match": {"count": {"$gte": min_messages}}},
        {"$sort": {"last_at": 1}},
    ]


def recent_sessions(db: Database, since: datetime, min_messages: int) -> Any:
    """An async cursor over `recent_sessions_pipeline` rows (the session sweep reads it)."""
    # allowDiskUse: a busy day has many sessions to sort; let the server spill rather than fail.
    return db[CHAT_MESSAGES].aggregate(recent_sessions_pipeline(since, min_messages), allowDiskUse=True)
