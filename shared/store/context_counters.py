"""The `context_counters` collection: each user's unsummarized contexts, kept as a counter so
an extraction reads it in the write that bumps it instead of counting documents. One small
document per user, keyed by user id; the summary job sets it to the true count after each
claim (and forgetting after a withdrawn summary), so any drift (contexts that expired
unsummarized) is corrected there."""

from __future__ import annotations

from pymongo import ReturnDocument

from shared.store.contexts import unsummarized_count
from shared.store.mongo import CONTEXT_COUNTERS, Database


async def count_new_context(db: Database, user_id: str, had_other_contexts: bool = True) -> int:
    """One more unsummarized context for the user; the new count (one round trip).

    A counter just made (the count is 1) may be younger than the user's contexts: those
    stored before counters existed count too, so it is recounted, unless the caller knows
    the user had no other context (`had_other_contexts`, read before this one was stored):
    any context stored since was counted by the code that stored it."""
    doc = await db[CONTEXT_COUNTERS].find_one_and_update(
        {"_id": user_id}, {"$inc": {"unsummarized": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    count = int(doc["unsummarized"])
    if count == 1 and had_other_contexts:
        count = await recount_unsummarized(db, user_id)
    return count


async def recount_unsummarized(db: Database, user_id: str) -> int:
    """Set from the contexts themselves."""
    count = await unsummarized_count(db, user_id)
    await db[CONTEXT_COUNTERS].update_one({"_id": user_id}, {"$set": {"unsummarized": count}}, upsert=True)
    return count


async def delete_counter(db: Database, user_id: str) -> int:
    """Account deletion: the user's counter (keyed by user id, not in a `user_id` field)."""
    return int((await db[CONTEXT_COUNTERS].delete_one({"_id": user_id})).deleted_count)
