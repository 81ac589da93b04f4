"""The worker's per-process resources (not the memory lifecycle: that is worker/decay.py and
worker/summarize.py), opened in arq's `on_startup` and closed in `on_shutdown`.

One Motor client and one LLM client serve every job the process runs; that is what lets
hundreds of LLM calls share one event loop. They come from `shared/process/resources.py`'s one
factory, whose exit stack is the single owner: a launcher that already holds a client (the
all-in-one shares its in-memory database with the service) puts it in `ctx` first
(`mongo_client`, `llm`, `embedder`, `settings`), and the stack then neither makes nor closes it.

`startup` gathers everything into one frozen `WorkerResources` and stores it in arq's ctx
under one key. That dict is arq's seam and stays there: jobs never read it, they call
`job_context(ctx)` (worker/context.py) first and use typed attributes from then on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from shared.memory.embeddings import Embedder, create_embedder
from shared.process.preflight import check_mongodb_reachable, refuse_in_memory_mongodb
from shared.process.resources import Resources, open_resources
from shared.process.settings import Settings, load_settings
from shared.queue.arq_adapter.job_api import queue_pool_of
from shared.queue.arq_adapter.pool import QueuePool
from shared.redis_structures.reply_lease import ReplyLease
from shared.redis_structures.reply_stream import ReplyStreams, open_streams_redis, reply_streams
from shared.redis_structures.user_events import UserEvents, user_events

# The worker's own keys in arq's ctx; everything else in it is arq's or a launcher's.
RESOURCES = "worker_resources"
EXIT_STACK = "resources_exit_stack"


@dataclass(frozen=True, kw_only=True)
class WorkerResources(Resources):
    """What every job of this process shares: settings, the database and the LLM client
    (`Resources`), and the worker's Redis handles."""

    # arq's pool on REDIS_URL: follow-up enqueues, recall indexes, the reply lease.
    redis: QueuePool
    # Recall's optional embeddings provider (EMBEDDINGS_PROVIDER; none by default).
    embedder: Embedder | None
    # On STREAMS_REDIS_URL: the replies' streams and the users' event streams.
    reply_streams: ReplyStreams
    user_events: UserEvents
    # One reply in flight per session (on `redis`): the reply job frees it when the reply ends.
    reply_lease: ReplyLease


def worker_resources(ctx: Mapping[str, Any]) -> WorkerResources:
    """The resources `startup` stored in this ctx."""
    resources = ctx.get(RESOURCES)
    if not isinstance(resources, WorkerResources):
        raise RuntimeError("no WorkerResources in ctx: worker/resources.py's startup has not run (arq's on_startup)")
    return resources


async def startup(ctx: dict[str, Any]) -> None:
    # Settings handed in by the launcher are used as they are; loaded only when none were.
    settings: Settings = ctx.get("settings") or load_settings()
    mongo_client = ctx.get("mongo_client")
    if mongo_client is None:
        # A worker alone on memory:// would read an empty store and report every session as
        # `insufficient_messages`; an unreachable server would fail every job. Say so now.
        refuse_in_memory_mongodb(settings, "worker")
        await asyncio.to_thread(check_mongodb_reachable, settings)
    pool = queue_pool_of(ctx)
    stack = AsyncExitStack()
    process: Resources = await stack.enter_async_context(
        open_resources(settings, mongo_client=mongo_client, llm=ctx.get("llm"), redis=pool)
    )
    streams_redis = open_streams_redis(settings.streams_url, settings.redis_timeout_seconds, settings.stream_keepalive_seconds)
    stack.push_async_callback(streams_redis.aclose)
    ctx[EXIT_STACK] = stack
    # A test may hand an embedder in (and keeps it); the one made here is closed here.
    embedder: Embedder | None
    if "embedder" in ctx:
        embedder = ctx["embedder"]
    else:
        made = create_embedder(settings)
        if made is not None:
            stack.push_async_callback(made.aclose)
        embedder = made
    ctx[RESOURCES] = WorkerResources(
        settings=process.settings,
        mongo_client=process.mongo_client,
        db=process.db,
        llm=process.llm,
        redis=pool,
        embedder=embedder,
        reply_streams=reply_streams(streams_redis, settings),
        user_events=user_events(streams_redis, settings),  # "the coach noted N things", to the user's pages
        reply_lease=ReplyLease(pool, settings),
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    ctx.pop(RESOURCES, None)
    stack: AsyncExitStack | None = ctx.pop(EXIT_STACK, None)
    if stack is not None:
        await stack.aclose()
