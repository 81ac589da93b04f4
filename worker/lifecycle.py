"""Per-process resources of a worker, made once in `on_startup` and handed to jobs in `ctx`.

One Motor client and one LLM client serve every job the process runs; that is what lets
hundreds of LLM calls share one event loop. A launcher that already holds a client (the
all-in-one shares its in-memory database with the service) puts it in `ctx` first, and
then the worker neither makes nor closes it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from shared.llm import create_llm
from shared.mongo import create_mongo_client, ensure_indexes, get_database
from shared.preflight import check_mongodb_reachable, refuse_in_memory_mongodb
from shared.settings import load_settings


async def startup(ctx: dict[str, Any]) -> None:
    settings = ctx.setdefault("settings", load_settings())
    if "mongo_client" not in ctx:
        # A worker alone on memory:// would read an empty store and report every session as
        # `insufficient_messages`; an unreachable server would fail every job. Say so now.
        refuse_in_memory_mongodb(settings, "worker")
        await asyncio.to_thread(check_mongodb_reachable, settings)
        ctx["mongo_client"] = create_mongo_client(settings)
        ctx["owns_mongo_client"] = True
    ctx["db"] = get_database(ctx["mongo_client"], settings)
    await ensure_indexes(ctx["db"])
    if "llm" not in ctx:
        # arq's pool: every worker's LLM calls share one rate window in Redis.
        ctx["llm"] = create_llm(settings, redis=ctx.get("redis"), db=ctx["db"])
        ctx["owns_llm"] = True


async def shutdown(ctx: dict[str, Any]) -> None:
    if ctx.pop("owns_llm", False):
        await ctx["llm"].aclose()
    if ctx.pop("owns_mongo_client", False):
        ctx["mongo_client"].close()
