"""The user's recall index rebuilt from MongoDB: the `rebuild_recall_cache(user_id)` job, and
the same work done inside a job that has just changed the user's memory.

An extraction refreshes the index itself (`drop_and_refresh`) rather than enqueueing a job for
it: one job per extraction instead of two, and the index answers again as soon as the
extraction is done. The drop comes first, so no reply ranks from the old index meanwhile
(they rank from MongoDB), and the index's version counter keeps a rebuild that read MongoDB
before a later change from writing (shared/redis_structures/recall_index.py). If the refresh
cannot be done here (Redis away, the embeddings provider failing), the job's own work stands
and the rebuild is enqueued as before (through the outbox when Redis is away).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from shared.memory.documents import load_user_memory
from shared.memory.embeddings import pack
from shared.memory.ranking import build_index
from shared.memory.recall_cache import drop_and_rebuild
from shared.models import RecallCacheOutcome
from shared.redis_structures import recall_index
from shared.store import memory_vectors
from worker.context import job_context
from worker.resources import WorkerResources

log = logging.getLogger(__name__)


async def rebuild_recall_cache(ctx: dict[str, Any], user_id: str) -> dict[str, Any]:
    return (await refresh_recall_index(job_context(ctx).resources, user_id)).model_dump()


async def refresh_recall_index(resources: WorkerResources, user_id: str) -> RecallCacheOutcome:
    seen = await recall_index.version(resources.redis, user_id)  # before reading MongoDB: see recall_index.write
    return await rebuild_index(resources, user_id, seen)


async def rebuild_index(resources: WorkerResources, user_id: str, seen: str | None) -> RecallCacheOutcome:
    """From MongoDB as it is now; written only if the index's version is still `seen`."""
    settings, db, redis, embedder = resources.settings, resources.db, resources.redis, resources.embedder
    memory = await load_user_memory(db, user_id)
    index = build_index(memory.docs, memory.entities, memory.summary, datetime.now(UTC), settings.memory_decay_rate)
    embedded = 0
    if embedder is not None:
        index.vecs = await memory_vectors.vectors_for(db, user_id, embedder.model, index.docs.values())
        missing = [d for d in index.docs.values() if d.id not in index.vecs]
        if missing:
            vectors = await embedder.embed([d.content for d in missing], "document")
            fresh = {d.id: pack(v) for d, v in zip(missing, vectors, strict=True)}
            await memory_vectors.store(db, user_id, embedder.model, missing, fresh)
            index.vecs.update(fresh)
            embedded = len(fresh)
    written = await recall_index.write(redis, user_id, index, seen, settings.recall_cache_ttl_seconds, index.vecs or None)
    return RecallCacheOutcome(
        user_id=user_id,
        documents=len(index.docs),
        stems=len(index.postings),
        entities=len({link.id for link in index.links.values()}),
        embedded=embedded,
        written=written,
    )


async def drop_and_refresh(resources: WorkerResources, user_id: str) -> None:
    """After a change to the user's memory, inside the job that made it. Never fails the job:
    its change is stored, and a refresh that cannot be done here becomes a rebuild job."""
    settings = resources.settings
    try:
        async with asyncio.timeout(settings.redis_timeout_seconds):
            seen = await recall_index.drop(resources.redis, user_id)
        await rebuild_index(resources, user_id, seen)  # the drop's version: no read of it
    except Exception as exc:  # Redis away, the embeddings provider failing: the job's work stands
        log.warning("recall index of %s not refreshed here (%s); a rebuild job will", user_id, type(exc).__name__)
        await drop_and_rebuild(resources.db, resources.redis, settings.redis_timeout_seconds, user_id)
