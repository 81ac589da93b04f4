"""After an extraction: the session's entities and relations go into the user's graph."""

from __future__ import annotations

import logging
from datetime import datetime

from shared.models import ContextExtraction
from shared.process.settings import Settings
from shared.store import communities, entities, relations
from shared.store.mongo import Database

log = logging.getLogger(__name__)


async def record_graph(
    db: Database, settings: Settings, user_id: str, source_id: str, extraction: ContextExtraction, now: datetime
) -> int:
    """Resolve and count the entities, record the relations, mark the communities stale.
    Returns how many entities the session named (after resolution)."""
    if not extraction.entities:
        return 0
    resolved = await entities.record_entities(db, user_id, extraction.entities, source_id, now, settings.entity_match_threshold)
    edges = await relations.record_relations(db, user_id, extraction.relations, resolved, now)
    await communities.mark_changed(db, user_id, now)
    log.info("user %s: %d entities named, %d relations", user_id, len(set(resolved.values())), edges)
    return len(set(resolved.values()))
