"""What recall ranks: every memory a user has, as one flat list of documents.

A document is an active memory (or a point of a context from before memories were records
of their own), a key point of a finished summary, or an insight of the
newest reflection. Each collection's home module (shared/store/) reads its own documents;
this module only gathers them, with the entities that name them.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from shared.models import EntityNames, MemoryDoc
from shared.store import contexts, entities, memories, reflections, summaries
from shared.store.mongo import Database


class UserMemory(BaseModel):
    docs: list[MemoryDoc]
    entities: list[EntityNames]
    summary: str | None = None  # the newest summary's text: always in the prompt


async def load_user_memory(db: Database, user_id: str) -> UserMemory:
    """Everything recall ranks, from MongoDB: what an index rebuild reads, and what a reply
    ranks directly when the index is missing or Redis is away."""
    # Five plain reads, independent: sent together, one round trip's wait.
    memory_docs, context_docs, (summary_docs, newest_summary), reflection_docs, names = await asyncio.gather(
        memories.memory_documents(db, user_id),
        contexts.memory_documents(db, user_id),
        summaries.memory_documents(db, user_id),
        reflections.memory_documents(db, user_id),
        entities.names_of(db, user_id),
    )
    return UserMemory(docs=memory_docs + context_docs + summary_docs + reflection_docs, entities=names, summary=newest_summary)
