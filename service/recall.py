"""What the coach remembers when it answers: the newest summary and the strongest points.

Both use the strength as of now (stored strength decayed by the days since the last
decay run), so what a user reads in `GET /api/v1/memory` and what the coach is given agree.
The queries live with their collections (`shared/contexts.py`, `shared/summaries.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared import contexts, summaries
from shared.models import MemoryDigest
from shared.mongo import Database
from shared.settings import Settings

# Recall ranks the points of this many most recently touched contexts: enough to reach back
# well past a summary's worth of sessions, few enough to keep the chat's query small.
RECALL_CONTEXTS = 50


async def recall(db: Database, user_id: str, settings: Settings, now: datetime | None = None) -> MemoryDigest:
    now = now or datetime.now(UTC)
    return MemoryDigest(
        summary=await summaries.latest_text(db, user_id),
        points=await contexts.recall_points(db, user_id, now, settings.memory_decay_rate, RECALL_CONTEXTS, settings.recall_points),
    )
