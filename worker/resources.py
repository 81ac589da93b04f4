"""The worker's per-process resources (not the memory lifecycle: that is worker/decay.py and
worker/summarize.py), opened in arq's `on_startup` and closed in `on_shutdown`.

One Motor client and one LLM client serve every job the process runs; that is what lets
hundreds of LLM calls share one event loop. They come from `shared/process/resources.py`'s one
factory, whose exit stack is the single owner: a launcher that already holds a client (the
all-in-one shares its in-memory database with the service) puts it in `ctx` first, and the
stack then neither makes nor closes it. Jobs read `ctx["db"]`, `ctx["llm"]`, `ctx["settings"]`
(and `ctx["resources"]`, all three in one typed object); the reply job also
`ctx["reply_streams"]` and `ctx["reply_lease"]`; extraction and reflection `ctx["user_events"]`.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from shared.memory.embeddings import create_embedder
from shared.process.preflight import check_mongodb_reachable, refuse_in_memory_mongodb
from shared.process.resources import Resources, open_resources
from shared.process.settings import Settings, load_settings
from shared.redis_structures.reply_lease import ReplyLease
from shared.redis_structures.reply_stream import open_streams_redis, reply_streams
from shared.redis_structures.user_events import user_events

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
    streams_redis = open_streams_redis(settings.streams_url, settings.redis_timeout_seconds, settings.stream_keepalive_seconds)
    stack.push_async_callback(streams_redis.aclose)
    ctx[EXIT_STACK] = stack
    ctx.update(settings=settings, resources=resources, db=resources.db, llm=resources.llm)
    # Recall's optional embeddings provider (none by default): the index rebuild embeds
    # documents, a reply its own message. A test may hand one in.
    if "embedder" not in ctx:
        ctx["embedder"] = create_embedder(settings)
        if ctx["embedder"] is not None:
            stack.push_async_callback(ctx["embedder"].aclose)
    # The replies' streams (STREAMS_REDIS_URL) and the one-reply-per-session lease (REDIS_URL).
    ctx["reply_streams"] = reply_streams(streams_redis, settings)
    ctx["user_events"] = user_events(streams_redis, settings)  # "the coach noted N things", to the user's pages
    if "redis" in ctx:  # arq's pool, put there before on_startup (not when a test calls startup alone)
        ctx["reply_lease"] = ReplyLease(ctx["redis"], settings)


async def shutdown(ctx: dict[str, Any]) -> None:
    stack: AsyncExitStack | None = ctx.pop(EXIT_STACK, None)
    if stack is not None:
        await stack.aclose()
