"""The `sessions` collection: one document per login; its id is the token's `jti`.

Revocation lives here (durable, with a TTL index on `expires_at`), so logout works with
Redis down. Every read and write of its fields lives in this module.

A stored session: _id (hex uuid), user_id, created_at, expires_at, revoked_at (None while open).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TypedDict

from shared.store.mongo import SESSIONS, Database


class StoredSession(TypedDict):
    _id: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


async def open_session(db: Database, user_id: str, now: datetime, ttl: timedelta) -> str:
    session_id = uuid.uuid4().hex
    session: StoredSession = {
        "_id": session_id,
        "user_id": user_id,
        "created_at": now,
        "expires_at": now + ttl,
        "revoked_at": None,
    }
    await db[SESSIONS].insert_one(session)
    return session_id


async def why_not_valid(db: Database, user_id: str, session_id: str, now: datetime) -> str | None:
    """None when the session is open; otherwise why not, in words fit for a 401."""
    session = await db[SESSIONS].find_one({"_id": session_id}, {"user_id": 1, "revoked_at": 1, "expires_at": 1})
    if session is None or session["user_id"] != user_id:
        return "session not found"
    if session.get("revoked_at") is not None:
        return "session has been logged out"
    if session["expires_at"] <= now:
        return "token has expired"
    return None


async def revoke_if_open(db: Database, user_id: str, session_id: str, now: datetime) -> bool:
    """Check and revoke in one statement: True if this call closed an open, unexpired session,
    so a racing second logout finds nothing to revoke."""
    revoked = await db[SESSIONS].find_one_and_update(
        {"_id": session_id, "user_id": user_id, "revoked_at": None, "expires_at": {"$gt": now}},
        {"$set": {"revoked_at": now}},
        projection={"_id": 1},
    )
    return revoked is not None


async def still_open(db: Database, session_ids: list[str], now: datetime) -> set[str]:
    """Which of the sessions are neither revoked, expired nor gone."""
    if not session_ids:
        return set()
    cursor = db[SESSIONS].find({"_id": {"$in": session_ids}, "revoked_at": None, "expires_at": {"$gt": now}}, {"_id": 1})
    return {doc["_id"] for doc in await cursor.to_list(length=None)}


async def revoke_all_open(db: Database, user_id: str, now: datetime) -> list[str]:
    """Revoke every open session of the user (account deletion); the ids that were open."""
    cursor = db[SESSIONS].find({"user_id": user_id, "revoked_at": None}, {"_id": 1})
    open_ids = [doc["_id"] for doc in await cursor.to_list(length=None)]
    await db[SESSIONS].update_many({"user_id": user_id, "revoked_at": None}, {"$set": {"revoked_at": now}})
    return open_ids
