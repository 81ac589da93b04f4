"""`detect_communities`: nightly cron, 04:00 UTC. Recomputes the communities of every user
whose entity graph changed since the last run, reading users in batches of
COMMUNITY_BATCH_USERS (two queries a batch) and running Louvain on each graph."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from shared.memory.community_detection import detect, entity_graph
from shared.store import communities, entities, relations
from worker.context import job_context

log = logging.getLogger(__name__)


async def detect_communities(ctx: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    resources = job_context(ctx).resources
    db, settings = resources.db, resources.settings
    now = now or datetime.now(UTC)
    users = groups = 0
    louvain_s = 0.0
    while True:
        batch = await communities.stale_users(db, settings.community_batch_users)
        if not batch:
            break
        user_ids = [user_id for user_id, _ in batch]
        nodes = await entities.entities_of_users(db, user_ids)
        edges = await relations.relations_of_users(db, user_ids)
        progressed = False
        for user_id, changed_at in batch:
            started = time.perf_counter()
            found = detect(entity_graph(nodes[user_id], edges[user_id]))
            louvain_s += time.perf_counter() - started
            progressed |= await communities.store_groups(db, user_id, found, changed_at, now)
            users += 1
            groups += len(found)
        if not progressed:  # every user changed again meanwhile: leave them for the next run
            break
    log.info("detect_communities: %d users, %d communities", users, groups)
    return {"users": users, "communities": groups, "louvain_seconds": round(louvain_s, 3)}
