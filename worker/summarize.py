"""`summarize_sessions`: fold a user's oldest session contexts into one summary.

Contexts are claimed before the LLM call: the summary document is inserted as `pending`,
then the contexts still unclaimed are marked with its id in one update whose filter is
`summary_id: None`. Two runs for one user can therefore never cover the same context. A
run that dies after claiming leaves a pending summary with a lease; the next run for that
user resumes it once the lease has passed, so nothing claimed is stranded.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

from shared.jobs import SUMMARIZE_SESSIONS, summary_job_id
from shared.llm.attribution import attribute_llm_calls
from shared.memory import expiry
from shared.models import RecalledPoint, SessionDigest, SummaryOutcome
from shared.mongo import SESSION_CONTEXTS, SUMMARIES
from shared.recall_cache import drop_and_rebuild

log = logging.getLogger(__name__)


async def enqueue_summary_if_due(ctx: dict[str, Any], user_id: str) -> str | None:
    db, settings = ctx["db"], ctx["settings"]
    unsummarized = await db[SESSION_CONTEXTS].count_documents({"user_id": user_id, "summary_id": None})
    if unsummarized < settings.summarize_threshold:
        return None
    job_id = summary_job_id(user_id, await db[SUMMARIES].count_documents({"user_id": user_id}))
    await ctx["redis"].enqueue_job(SUMMARIZE_SESSIONS, user_id, _job_id=job_id)
    return job_id


async def resume_pending(db: Any, user_id: str, now: datetime, lease: timedelta) -> dict[str, Any] | None:
    return await db[SUMMARIES].find_one_and_update(
        {"user_id": user_id, "status": "pending", "lease_until": {"$lt": now}},
        {"$set": {"lease_until": now + lease}},
    )


async def claim_oldest(db: Any, user_id: str, keep_recent: int, now: datetime, lease: timedelta) -> ObjectId | None:
    cursor = db[SESSION_CONTEXTS].find({"user_id": user_id, "summary_id": None}, {"_id": 1}).sort("created_at", 1)
    candidates = [doc["_id"] for doc in await cursor.to_list(length=None)]
    to_cover = candidates[: len(candidates) - keep_recent]
    if not to_cover:
        return None
    summary_id = ObjectId()
    await db[SUMMARIES].insert_one(
        {"_id": summary_id, "user_id": user_id, "status": "pending", "lease_until": now + lease, "created_at": now}
    )
    await db[SESSION_CONTEXTS].update_many({"_id": {"$in": to_cover}, "summary_id": None}, {"$set": {"summary_id": summary_id}})
    return summary_id


async def summarize_sessions(ctx: dict[str, Any], user_id: str) -> dict[str, Any]:
    db, llm, settings = ctx["db"], ctx["llm"], ctx["settings"]
    attribute_llm_calls(user_id)  # usage records and the daily budget
    now = datetime.now(UTC)
    lease = timedelta(seconds=settings.job_timeout_seconds)
    pending = await resume_pending(db, user_id, now, lease)
    summary_id = pending["_id"] if pending else await claim_oldest(db, user_id, settings.summarize_keep_recent, now, lease)
    if summary_id is None:
        return SummaryOutcome(success=True, reason="nothing_to_summarize").model_dump()

    cursor = db[SESSION_CONTEXTS].find({"summary_id": summary_id}).sort("created_at", 1)
    contexts = await cursor.to_list(length=None)
    if not contexts:  # a concurrent run claimed every one of them first
        await db[SUMMARIES].delete_one({"_id": summary_id, "status": "pending"})
        return SummaryOutcome(success=True, reason="nothing_to_summarize").model_dump()

    digests = [
        SessionDigest(
            session_id=c["session_id"],
            created_at=c["created_at"],
            points=[RecalledPoint(kind=p["kind"], content=p["content"]) for p in c.get("context_points", [])],
        )
        for c in contexts
    ]
    reply = await llm.summarize(digests)
    done = datetime.now(UTC)
    await db[SUMMARIES].update_one(
        {"_id": summary_id},
        {
            "$set": {
                "status": "done",
                "covered_session_ids": [c["session_id"] for c in contexts],
                "covered_context_ids": [c["_id"] for c in contexts],
                "period": {"start": contexts[0]["created_at"], "end": contexts[-1]["created_at"]},
                "text": reply.draft.text,
                "key_points": reply.draft.key_points,
                "model": reply.model,
                "usage": reply.usage.model_dump(),
                "strength": 1.0,
                "decayed_at": done,
                "expires_at": expiry(done, settings.memory_ttl_days),
            },
            "$unset": {"lease_until": ""},
        },
    )
    # Only now do decay and prune treat these contexts as safe to delete.
    await db[SESSION_CONTEXTS].update_many({"summary_id": summary_id}, {"$set": {"summarized_at": done}})
    if "redis" in ctx:  # the digest's summary is now this one
        await drop_and_rebuild(db, ctx["redis"], settings.redis_timeout_seconds, user_id)
    log.info("user %s: summary %s covers %d sessions", user_id, summary_id, len(contexts))
    return SummaryOutcome(success=True, summary_id=str(summary_id), covered=len(contexts), reason="summarized").model_dump()
