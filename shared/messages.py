"""Chat messages in MongoDB: the service writes them, the worker reads a session's tail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from shared.models import ChatMessage, Role
from shared.mongo import CHAT_MESSAGES


def _to_model(doc: dict[str, Any]) -> ChatMessage:
    return ChatMessage(id=str(doc["_id"]), role=doc["role"], content=doc["content"], timestamp=doc["timestamp"])


async def store_message(db: Any, user_id: str, session_id: str, role: Role, content: str) -> ChatMessage:
    doc = {
        "_id": ObjectId(),
        "user_id": user_id,
        "session_id": session_id,
        "role": role,
        "content": content,
        "timestamp": datetime.now(UTC),
    }
    await db[CHAT_MESSAGES].insert_one(doc)
    return _to_model(doc)


async def recent_session_messages(db: Any, session_id: str, limit: int) -> list[ChatMessage]:
    """The session's newest `limit` messages, oldest first."""
    cursor = db[CHAT_MESSAGES].find({"session_id": session_id}).sort([("timestamp", -1), ("_id", -1)]).limit(limit)
    docs = await cursor.to_list(length=limit)
    return [_to_model(doc) for doc in reversed(docs)]


async def newest_message_id(db: Any, session_id: str) -> str | None:
    latest = await recent_session_messages(db, session_id, 1)
    return latest[0].id if latest else None


async def recent_user_messages(db: Any, user_id: str, limit: int) -> list[ChatMessage]:
    """The user's newest `limit` messages across sessions, oldest first."""
    cursor = db[CHAT_MESSAGES].find({"user_id": user_id}).sort([("timestamp", -1), ("_id", -1)]).limit(limit)
    docs = await cursor.to_list(length=limit)
    return [_to_model(doc) for doc in reversed(docs)]
