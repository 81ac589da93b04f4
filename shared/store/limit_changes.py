"""The `limit_changes` collection: every run-time change of a limit, who made it and when.

The limits themselves live in Redis (shared/redis_structures/live_limits.py), where every
process reads them; this is their history, kept durable for the dashboard and for audits.
One document per change: the admin's id and email, the time, and the four limits before
and after (so a reader sees the whole picture, not just the one field that moved).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from shared.redis_structures.live_limits import LIMIT_FIELDS, RunTimeLimits
from shared.store.mongo import LIMIT_CHANGES, Database


class FieldChange(BaseModel):
    field: str
    old: int
    new: int


class LimitChange(BaseModel):
    changed_by: str  # the admin's user id
    changed_by_email: str
    changed_at: datetime
    before: RunTimeLimits
    after: RunTimeLimits

    @property
    def changes(self) -> list[FieldChange]:
        return [
            FieldChange(field=name, old=getattr(self.before, name), new=getattr(self.after, name))
            for name in LIMIT_FIELDS
            if getattr(self.before, name) != getattr(self.after, name)
        ]


class LimitChangeView(LimitChange):
    """As the API and the dashboard show it: the fields that moved, spelled out."""

    fields: list[FieldChange]


async def record_limit_change(db: Database, change: LimitChange) -> None:
    await db[LIMIT_CHANGES].insert_one(change.model_dump())


async def recent_limit_changes(db: Database, limit: int = 20) -> list[LimitChangeView]:
    docs = await db[LIMIT_CHANGES].find({}, {"_id": 0}).sort("changed_at", -1).to_list(length=limit)
    views = []
    for doc in docs:
        change = LimitChange.model_validate(doc)
        views.append(LimitChangeView(**change.model_dump(), fields=change.changes))
    return views
