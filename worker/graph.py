"""After an extraction: the session's entities and relations go into the user's graph."""

from __future__ import annotations

import logging
from datetime import datetime

from shared.memory import llm_aliases
from shared.models import ContextExtraction
from shared.process.settings import Settings
from shared.store import communities, entities, relations
from shared.store.mongo import Database

log = logging.getLogger(__name__)


async def record_graph(
    db: Database,
    settings: Settings,
    user_id: str,
    source_id: str,
    extraction: ContextExtraction,
    user_text: str,
    now: datetime,
) -> int:
    """Resolve and count the entities, record the relations, mark the communities stale.
    `user_text`: what the user said in the session, which the aliases the LLM gave must
    come from. Returns how many entities the session named (after resolution)."""
    if not extraction.entities:
        return 0
    aliases = llm_aliases.accepted(extraction.entities, user_text)
    resolved = await entities.record_entities(
        db, user_id, extraction.entities, source_id, now, settings.entity_match_threshold, aliases
    )
    edges = await relations.record_relations(db, user_id, extraction.relations, resolved, now)
    await communities.mark_changed(db, user_id, now)
    offered = sum(len(e.aliases) for e in extraction.entities)
    taken = sum(len(a) for a in aliases.values())
    log.info(
        "user %s: %d entities named, %d relations, %d of %d aliases given taken",
        user_id,
        len(set(resolved.values())),
        edges,
        taken,
        offered,
    )
    return len(set(resolved.values()))
