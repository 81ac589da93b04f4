"""The resources every process holds once: settings, the MongoDB client and database, the
LLM client. One factory makes them and one owner closes them.

`open_resources` is an async context manager over an `AsyncExitStack`: what it opens it
closes on exit, in reverse order; what the caller hands in (the all-in-one shares its
in-memory MongoDB client between service and worker, tests share a stub LLM) it leaves to
the caller. The service (service/app.py) and the worker (worker/resources.py) each open one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shared.llm import LLMProvider, create_llm
from shared.mongo import Database, create_mongo_client, ensure_indexes, get_database
from shared.settings import Settings


@dataclass(frozen=True)
class Resources:
    settings: Settings
    mongo_client: Any  # Motor's AsyncIOMotorClient, or mongomock-motor's stand-in (untyped)
    db: Database
    llm: LLMProvider


@asynccontextmanager
async def open_resources(
    settings: Settings, *, mongo_client: Any = None, llm: LLMProvider | None = None, redis: Redis | None = None
) -> AsyncIterator[Resources]:
    """`redis` (the process's arq pool) gives the LLM client its shared rate window (shared/llm/limiter.py)."""
    async with AsyncExitStack() as stack:
        if mongo_client is None:
            mongo_client = create_mongo_client(settings)
            stack.callback(mongo_client.close)
        db = get_database(mongo_client, settings)
        await ensure_indexes(db)
        if llm is None:
            llm = create_llm(settings, redis=redis, db=db)
            stack.push_async_callback(llm.aclose)
        yield Resources(settings=settings, mongo_client=mongo_client, db=db, llm=llm)
