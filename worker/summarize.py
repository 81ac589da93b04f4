"""`summarize_sessions`: fold a user's oldest session contexts into one summary.

Orchestration only: claim (or resume) contexts, ask the LLM, store. The claim protocol that
keeps two runs from covering the same context lives in `shared/store/summaries.py` and
`shared/store/contexts.py`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.llm.attribution import attribute_llm_calls
from shared.memory import forget
from shared.memory.recall_cache import drop_and_rebuild
from shared.memory.strength import expiry
from shared.models import SummaryOutcome
from shared.queue.jobs import enqueue_summary
from shared.store import context_counters, contexts, summaries
from worker.context import job_context
from worker.resources import WorkerResources

log = logging.getLogger(__name__)


async def enqueue_summary_if_due(resources: WorkerResources, user_id: str, unsummarized: int) -> str | None:
    if unsummarized < resources.settings.summarize_threshold:
        return None
    return await enqueue_summary(resources.redis, user_id, await summaries.count_for_user(resources.db, user_id))


async def summarize_sessions(ctx: dict[str, Any], user_id: str) -> dict[str, Any]:
    resources = job_context(ctx).resources
    db, llm, settings = resources.db, resources.llm, resources.settings
    attribute_llm_calls(user_id)  # usage records and the daily budget
    now = datetime.now(UTC)
    lease = timedelta(seconds=settings.job_timeout_seconds)
    summary_id = await summaries.resume_pending(db, user_id, now, lease)
    if summary_id is None:
        to_cover = await contexts.oldest_unclaimed(db, user_id, settings.summarize_keep_recent)
        if not to_cover:
            return SummaryOutcome(success=True, reason="nothing_to_summarize").model_dump()
        summary_id = await summaries.insert_pending(db, user_id, now, lease)
        await contexts.claim(db, to_cover, summary_id)
        await context_counters.recount_unsummarized(db, user_id)  # the counter, exact again

    claimed = await contexts.claimed_by(db, summary_id)
    if not claimed:  # a concurrent run claimed every one of them first
        await summaries.drop_pending(db, summary_id)
        return SummaryOutcome(success=True, reason="nothing_to_summarize").model_dump()

    marks = {c["_id"]: c.get("forgets", 0) for c in claimed}  # read with them: a forget from here on is seen
    reply = await llm.summarize(await contexts.digests(db, claimed))
    done = datetime.now(UTC)
    await summaries.finish(
        db,
        summary_id,
        claimed,
        reply.draft.text,
        reply.draft.key_points,
        reply.model,
        reply.usage.model_dump(),
        done,
        expiry(done, settings.memory_ttl_days),
    )
    await contexts.mark_summarized(db, summary_id, done)
    if await forget.withdraw_if_forgotten(db, user_id, marks):
        log.info("user %s: summary %s withdrawn, its sessions changed while it was written", user_id, summary_id)
    await drop_and_rebuild(db, resources.redis, settings.redis_timeout_seconds, user_id)  # the digest's summary is now this one
    log.info("user %s: summary %s covers %d sessions", user_id, summary_id, len(claimed))
    return SummaryOutcome(success=True, summary_id=str(summary_id), covered=len(claimed), reason="summarized").model_dump()
