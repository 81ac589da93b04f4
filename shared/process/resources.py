"""The resources a process holds once: settings, the MongoDB client and database, and (in the
worker) the LLM client. One factory makes them and one owner closes them.

`open_store` (MongoDB) and `open_resources` (MongoDB and the LLM client) are async context
managers over an `AsyncExitStack`: what they open they close on exit, in reverse order; what
the caller hands in (the all-in-one shares its in-memory MongoDB client between service and
worker, tests share a stub LLM) they leave to the caller. The service (service/app.py) opens a
store only: every LLM call is a worker job, so it has no LLM client to hold. The worker
(worker/resources.py) opens the whole set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shared.llm import LLMProvider, create_llm
from shared.process.settings import Settings
from shared.store.mongo import Database, create_mongo_client, ensure_indexes, get_database


@dataclass(frozen=True)
class Store:
    settings: Settings
    mongo_client: Any  # Motor's AsyncIOMotorClient, or mongomock-motor's stand-in (untyped)
    db: Database


@dataclass(frozen=True)
class Resources(Store):
    llm: LLMProvider


@asynccontextmanager
async def open_store(settings: Settings, *, mongo_client: Any = None) -> AsyncIterator[Store]:
    async with AsyncExitStack() as stack:
        if mongo_client is None:
            mongo_client = create_mongo_client(settings)
            stack.callback(mongo_client.close)
        db = get_database(mongo_client, settings)
        await ensure_indexes(db)
        yield Store(settings=settings, mongo_client=mongo_client, db=db)


@asynccontextmanager
async def open_resources(
    settings: Settings, *, mongo_client: Any = None, llm: LLMProvider | None = None, redis: Redis | None = None
) -> AsyncIterator[Resources]:
    """`redis` (the process's arq pool) gives the LLM client its shared rate window (shared/llm/limiter.py)."""
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(settings, mongo_client=mongo_client))
        if llm is None:
            llm = create_llm(settings, redis=redis, db=store.db)
            stack.push_async_callback(llm.aclose)
        yield Resources(settings=settings, mongo_client=store.mongo_client, db=store.db, llm=llm)
