"""Everything an extraction reads before its LLM call, in one MongoDB round trip: the
session's newest messages, this session's context watermark and empty watermark, and the
point keys of the user's other contexts (for reinforcement after the call).

One aggregation over `chat_messages`; each collection contributes its own stages and reads
its own fields (shared/store/messages.py, shared/store/contexts.py, shared/store/empty_extractions.py), so the
fields still have one home each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.models import ChatMessage
from shared.store.contexts import KnownContexts, lookup_user_contexts
from shared.store.empty_extractions import empty_watermark_of, lookup_empty_watermark
from shared.store.messages import session_tail_stages, to_message
from shared.store.mongo import CHAT_MESSAGES, Database


@dataclass(frozen=True)
class ExtractionInput:
    messages: list[ChatMessage]  # oldest first
    known: KnownContexts
    empty_covered_to: str | None  # last message id the empty watermark covers

    def up_to_date(self) -> bool:
        return bool(self.messages) and self.messages[-1].id in (self.known.covered_to, self.empty_covered_to)


async def read_extraction_input(db: Database, user_id: str, session_id: str, limit: int) -> ExtractionInput:
    contexts_lookup, contexts_fields = lookup_user_contexts("contexts")
    empty_lookup, empty_fields = lookup_empty_watermark("empty")
    pipeline: list[dict[str, Any]] = [
        *session_tail_stages(session_id, limit),
        {
            "$facet": {
                "messages": [{"$project": {"_id": 1, "role": 1, "content": 1, "timestamp": 1}}],
                # The lookups run once, from the newest message (it carries user and session).
                "marks": [
                    {"$limit": 1},
                    contexts_lookup,
                    empty_lookup,
                    {"$project": {"_id": 0, **contexts_fields, **empty_fields}},
                ],
            }
        },
    ]
    [result] = await db[CHAT_MESSAGES].aggregate(pipeline).to_list(length=1)
    marks = result["marks"][0] if result["marks"] else {}
    return ExtractionInput(
        messages=[to_message(doc) for doc in reversed(result["messages"])],
        known=KnownContexts([c for c in marks.get("contexts", [])], session_id),
        empty_covered_to=empty_watermark_of(marks.get("empty", []), user_id),
    )
