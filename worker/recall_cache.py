"""`rebuild_recall_cache(user_id)`: store the user's recall digest in Redis for the next chat."""

from __future__ import annotations

from typing import Any

from shared.memory.recall import build_digest
from shared.memory.recall_cache import write_digest
from shared.models import RecallCacheOutcome


async def rebuild_recall_cache(ctx: dict[str, Any], user_id: str) -> dict[str, Any]:
    settings = ctx["settings"]
    digest = await build_digest(ctx["db"], user_id, settings)
    await write_digest(ctx["redis"], user_id, digest, settings.recall_cache_ttl_seconds)
    return RecallCacheOutcome(user_id=user_id, points=len(digest.points), reflections=len(digest.reflections)).model_dump()
