"""Everything an extraction reads before its LLM call: the session's newest messages, this
session's context watermark and empty watermark, the point keys of the user's other
contexts (for reinforcement after the call), and the user's active memories (consolidation).

Four plain reads, each on its own index (shared/store/mongo.py), sent together: one round
trip's wait. (It was one aggregation, a `$facet` with two `$lookup`s: one round trip, but a
shape the in-memory stand-in runs by scanning every collection it joins, 14.6 ms a read.)
Each collection's read lives in its own module (shared/store/messages.py,
shared/store/contexts.py, shared/store/empty_extractions.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from shared.models import ChatMessage
from shared.store import memories
from shared.store.contexts import KnownContexts, user_context_keys
from shared.store.empty_extractions import empty_watermark
from shared.store.messages import recent_session_messages
from shared.store.mongo import Database


@dataclass(frozen=True)
class ExtractionInput:
    messages: list[ChatMessage]  # oldest first
    known: KnownContexts
    empty_covered_to: str | None  # last message id the empty watermark covers
    memories: list[dict[str, Any]]  # the user's active memories (id, kind, content, last edit), for consolidation

    def up_to_date(self) -> bool:
        return bool(self.messages) and self.messages[-1].id in (self.known.covered_to, self.empty_covered_to)


async def read_extraction_input(db: Database, user_id: str, session_id: str, limit: int) -> ExtractionInput:
    messages, contexts, empty_covered_to, known_memories = await asyncio.gather(
        recent_session_messages(db, user_id, session_id, limit),
        user_context_keys(db, user_id),
        empty_watermark(db, user_id, session_id),
        memories.active_known(db, user_id),
    )
    return ExtractionInput(
        messages=messages, known=KnownContexts(contexts, session_id), empty_covered_to=empty_covered_to, memories=known_memories
    )
