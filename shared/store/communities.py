"""The `communities` collection: one document per user, the groups of their entity graph.

Extraction marks a user's document stale when their graph changes; the nightly
`detect_communities` cron recomputes the stale ones. The mark carries the time of the
change, and the job clears it only if no change came in while it computed, so a change
during the run is picked up the next night, not lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from pydantic import BaseModel

from shared.store.mongo import COMMUNITIES, Database


class Community(TypedDict):
    index: int
    label: str
    entity_ids: list[str]


class StoredCommunities(TypedDict, total=False):
    user_id: str
    groups: list[Community]
    stale: bool
    changed_at: datetime
    computed_at: datetime | None


class CommunityView(BaseModel):
    index: int
    label: str
    size: int
    entity_ids: list[str]


async def mark_changed(db: Database, user_id: str, now: datetime) -> None:
    await db[COMMUNITIES].update_one(
        {"user_id": user_id},
        {"$set": {"stale": True, "changed_at": now}, "$setOnInsert": {"groups": [], "computed_at": None}},
        upsert=True,
    )


async def stale_users(db: Database, limit: int) -> list[tuple[str, datetime]]:
    cursor = db[COMMUNITIES].find({"stale": True}, {"user_id": 1, "changed_at": 1}).sort("changed_at", 1)
    return [(doc["user_id"], doc["changed_at"]) for doc in await cursor.to_list(length=limit)]


async def store_groups(db: Database, user_id: str, groups: list[Community], changed_at: datetime, now: datetime) -> bool:
    """Store the groups; clear the stale mark unless the graph changed since `changed_at`. True if cleared."""
    cleared = await db[COMMUNITIES].update_one(
        {"user_id": user_id, "changed_at": changed_at}, {"$set": {"groups": groups, "computed_at": now, "stale": False}}
    )
    if cleared.matched_count:
        return True
    await db[COMMUNITIES].update_one({"user_id": user_id}, {"$set": {"groups": groups, "computed_at": now}})
    return False


async def user_communities(db: Database, user_id: str) -> list[Community]:
    doc = await db[COMMUNITIES].find_one({"user_id": user_id}, {"groups": 1})
    return doc["groups"] if doc else []


def community_view(group: Community) -> CommunityView:
    return CommunityView(
        index=group["index"], label=group["label"], size=len(group["entity_ids"]), entity_ids=group["entity_ids"]
    )
