"""`rebuild_recall_cache(user_id)`: write the user's recall index into Redis from MongoDB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.memory.documents import load_user_memory
from shared.memory.embeddings import pack
from shared.memory.ranking import build_index
from shared.models import RecallCacheOutcome
from shared.redis_structures import recall_index
from shared.store import memory_vectors
from worker.context import job_context


async def rebuild_recall_cache(ctx: dict[str, Any], user_id: str) -> dict[str, Any]:
    resources = job_context(ctx).resources
    settings, db, redis, embedder = resources.settings, resources.db, resources.redis, resources.embedder
    seen = await recall_index.version(redis, user_id)  # before reading MongoDB: see recall_index.write
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
    ).model_dump()
