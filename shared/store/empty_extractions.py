"""`empty_extractions`: the watermark of extractions that stored nothing.

An extraction that finds no points (or only points the user's other sessions already
hold) stores no session context: an empty context would count toward the summary
threshold and fill summaries with nothing. But the session must not be read again and
again either, so the messages it read are recorded here, one document per session:
"up to this message there is nothing to keep". This is not a context: recall, summaries,
decay and the memory API never read it. It expires like a context (MEMORY_TTL_DAYS).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.store.mongo import EMPTY_EXTRACTIONS, Database


async def record_empty_extraction(
    db: Database,
    user_id: str,
    session_id: str,
    covered: Mapping[str, Any],
    model: str,
    reason: str,
    now: datetime,
    expires_at: datetime | None,
) -> None:
    """Move the session's empty watermark forward to `covered`; never back."""
    try:
        await db[EMPTY_EXTRACTIONS].update_one(
            {
                "user_id": user_id,
                "session_id": session_id,
                "$or": [{"covered.last_at": {"$lt": covered["last_at"]}}, {"covered": {"$exists": False}}],
            },
            {"$set": {"covered": covered, "model": model, "reason": reason, "updated_at": now, "expires_at": expires_at}},
            upsert=True,
        )
    except DuplicateKeyError:
        pass  # a run over newer messages already recorded a later watermark


async def empty_watermark(db: Database, user_id: str, session_id: str) -> str | None:
    """The last message id the session's empty watermark covers: on the (user_id, session_id) index."""
    doc = await db[EMPTY_EXTRACTIONS].find_one({"user_id": user_id, "session_id": session_id}, {"covered.last_message_id": 1})
    return str(doc["covered"]["last_message_id"]) if doc and doc.get("covered") else None


async def empty_watermarks(db: Database, user_ids: list[str], session_ids: list[str]) -> list[tuple[str, datetime]]:
    """(session id, time of the last message covered) of the given sessions' empty watermarks; the sweep reads these."""
    query = {"user_id": {"$in": user_ids}, "session_id": {"$in": session_ids}}
    docs = await db[EMPTY_EXTRACTIONS].find(query, {"session_id": 1, "covered.last_at": 1}).to_list(length=None)
    return [(d["session_id"], d["covered"]["last_at"]) for d in docs if d.get("covered", {}).get("last_at") is not None]
