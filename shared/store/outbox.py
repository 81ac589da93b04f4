"""The outbox: enqueues that could not reach Redis wait in MongoDB and are replayed later.

Logout must succeed with Redis down (the revocation is in MongoDB), and the session must
still be extracted. So an enqueue that fails, or takes longer than REDIS_TIMEOUT_SECONDS,
is written to `outbox` under its job id, and every service process replays the outbox
every OUTBOX_RELAY_INTERVAL_SECONDS. The job id keeps replays from running a job twice:
arq refuses an id it knows, and the outbox refuses a second entry with the same id.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo.errors import DuplicateKeyError

from shared.queue.arq_adapter.enqueue import enqueue_confirmed
from shared.queue.arq_adapter.pool import QueuePool
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.mongo import OUTBOX, Database

log = logging.getLogger(__name__)


async def enqueue_or_store(db: Database, arq: QueuePool, timeout: float, function: str, *args: Any, job_id: str) -> bool:
    """Enqueue now if Redis answers in time, else keep it in the outbox. True if enqueued now."""
    try:
        async with asyncio.timeout(timeout):
            await enqueue_confirmed(arq, function, list(args), job_id)
        return True
    except REDIS_DOWN as exc:
        log.warning("Redis unavailable (%s): %s kept in the outbox", type(exc).__name__, job_id)
    try:
        await db[OUTBOX].insert_one({"_id": job_id, "function": function, "args": list(args), "created_at": datetime.now(UTC)})
    except DuplicateKeyError:
        pass  # the same job is already waiting
    return False


async def relay_outbox(db: Database, arq: QueuePool, timeout: float, batch: int = 100) -> int:
    """Replay the oldest waiting enqueues; stops at the first Redis failure. Returns how many went."""
    sent = 0
    for entry in await db[OUTBOX].find({}).sort("created_at", 1).to_list(length=batch):
        try:
            async with asyncio.timeout(timeout):
                await enqueue_confirmed(arq, entry["function"], entry["args"], entry["_id"])
        except REDIS_DOWN:
            break
        await db[OUTBOX].delete_one({"_id": entry["_id"]})
        sent += 1
    if sent:
        log.info("outbox: %d jobs handed to Redis", sent)
    return sent


async def relay_forever(db: Database, arq: QueuePool, timeout: float, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await relay_outbox(db, arq, timeout)
        except Exception:  # MongoDB down too: try again next round
            log.exception("outbox relay failed")


async def outbox_size(db: AsyncIOMotorDatabase[Any]) -> int:
    return await db[OUTBOX].count_documents({})


async def in_outbox(db: AsyncIOMotorDatabase[Any], job_id: str) -> bool:
    return await db[OUTBOX].find_one({"_id": job_id}, {"_id": 1}) is not None
