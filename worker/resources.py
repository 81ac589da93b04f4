"""The worker's per-process resources (not the memory lifecycle: that is worker/decay.py and
worker/summarize.py), opened in arq's `on_startup` and closed in `on_shutdown`.

One Motor client and one LLM client serve every job the process runs; that is what lets
hundreds of LLM calls share one event loop. They come from `shared/resources.py`'s one
factory, whose exit stack is the single owner: a launcher that already holds a client (the
all-in-one shares its in-memory database with the service) puts it in `ctx` first, and the
stack then neither makes nor closes it. Jobs read `ctx["db"]`, `ctx["llm"]`, `ctx["settings"]`
(and `ctx["resources"]`, all three in one typed object).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from shared.preflight import check_mongodb_reachable, refuse_in_memory_mongodb
from shared.resources import Resources, open_resources
from shared.settings import Settings, load_settings

EXIT_STACK = "resources_exit_stack"


async def startup(ctx: dict[str, Any]) -> None:
    # Settings handed in by the launcher are used as they are; loaded only when none were.
    settings: Settings = ctx.get("settings") or load_settings()
    mongo_client = ctx.get("mongo_client")
    if mongo_client is None:
        # A worker alone on memory:// would read an empty store and report every session as
        # `insufficient_messages`; an unreachable server would fail every job. Say so now.
        refuse_in_memory_mongodb(settings, "worker")
        await asyncio.to_thread(check_mongodb_reachable, settings)
    stack = AsyncExitStack()
    resources: Resources = await stack.enter_async_context(
        open_resources(settings, mongo_client=mongo_client, llm=ctx.get("llm"), redis=ctx.get("redis"))
    )
    ctx[EXIT_STACK] = stack
    ctx.update(settings=settings, resources=resources, db=resources.db, llm=resources.llm)


async def shutdown(ctx: dict[str, Any]) -> None:
    stack: AsyncExitStack | None = ctx.pop(EXIT_STACK, None)
    if stack is not None:
        await stack.aclose()
