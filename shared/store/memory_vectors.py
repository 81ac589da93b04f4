"""The `memory_vectors` collection: one embedding per recall document and model.

Only written with an embeddings provider (shared/memory/embeddings.py). A vector is kept
with the text it was computed from, so an edited memory is embedded again, and under its
model, so changing `EMBEDDINGS_MODEL` never mixes two models' vectors.

A stored vector: _id, user_id, model, doc_id, content, vector (unit float32 bytes), created_at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from bson import Binary

from shared.models import MemoryDoc
from shared.store.mongo import MEMORY_VECTORS, Database


async def vectors_for(db: Database, user_id: str, model: str, docs: Iterable[MemoryDoc]) -> dict[str, bytes]:
    """The stored vectors of these documents whose text has not changed since."""
    text = {d.id: d.content for d in docs}
    found = db[MEMORY_VECTORS].find({"user_id": user_id, "model": model}, {"doc_id": 1, "content": 1, "vector": 1})
    return {v["doc_id"]: bytes(v["vector"]) async for v in found if text.get(v["doc_id"]) == v["content"]}


async def store(db: Database, user_id: str, model: str, docs: Iterable[MemoryDoc], vectors: Mapping[str, bytes]) -> None:
    now = datetime.now(UTC)
    for doc in docs:
        await db[MEMORY_VECTORS].update_one(
            {"user_id": user_id, "model": model, "doc_id": doc.id},
            {"$set": {"content": doc.content, "vector": Binary(vectors[doc.id]), "created_at": now}},
            upsert=True,
        )


async def delete_for_user(db: Database, user_id: str) -> int:
    result = await db[MEMORY_VECTORS].delete_many({"user_id": user_id})
    return int(result.deleted_count)
