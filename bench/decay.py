"""5. `decay_memories` over many stored contexts: wall time and database round trips.

Runs the real job against the in-process MongoDB stand-in (mongomock), counting every
database call the job makes, with a Redis of its own (the job drops the cached recall
indexes; this Redis holds none, so that costs one SCAN). The round trips must not grow with the number of contexts;
the wall time here is mongomock's pure-Python evaluation, an upper bound far above what a
MongoDB server takes for the same update pipeline.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from mongomock_motor import AsyncMongoMockClient

from allinone.redis_process import RedisProcess
from shared.process.settings import Settings
from shared.queue.arq_adapter.pool import QueuePool, open_pool_at
from shared.store.mongo import SESSION_CONTEXTS
from tests.support.job_ctx import job_ctx
from worker.decay import decay_memories


class CountingCollection:
    def __init__(self, collection: Any, counter: list[str]) -> None:
        self._collection, self._counter = collection, counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._counter.append(name)
            return attr(*args, **kwargs)

        return call


class CountingDatabase:
    def __init__(self, db: Any) -> None:
        self._db, self.calls = db, []

    def __getitem__(self, name: str) -> CountingCollection:
        return CountingCollection(self._db[name], self.calls)


async def run_one(count: int, redis: QueuePool) -> dict[str, Any]:
    db = AsyncMongoMockClient(tz_aware=True)["bench_decay"]
    t0 = datetime(2026, 1, 1, 2, tzinfo=UTC)
    docs = [
        {
            "user_id": f"u{n % 1000}",
            "session_id": f"s{n}",
            "context_points": [],
            "strength": 1.0,
            "decayed_at": t0,
            "expires_at": t0 + timedelta(days=365),
            "created_at": t0,
            "summary_id": None,
            "summarized_at": None,
        }
        for n in range(count)
    ]
    await db[SESSION_CONTEXTS].insert_many(docs)
    counting = CountingDatabase(db)
    ctx = job_ctx(Settings(_env_file=None), counting, redis)
    started = time.perf_counter()
    result = await decay_memories(ctx, now=t0 + timedelta(days=1))
    wall = time.perf_counter() - started
    assert result[SESSION_CONTEXTS]["decayed"] == count
    return {"contexts": count, "wall_s": wall, "round_trips": len(counting.calls), "calls": sorted(set(counting.calls))}


async def run(sizes: list[int]) -> list[dict[str, Any]]:
    with RedisProcess() as server:
        redis = await open_pool_at(server.url)
        try:
            return [await run_one(size, redis) for size in sizes]
        finally:
            await redis.aclose()
