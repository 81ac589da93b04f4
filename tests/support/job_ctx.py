"""A job's ctx as the worker hands it, for tests and benches that call a job directly.

The worker's `startup` (worker/resources.py) stores one `WorkerResources` in arq's ctx and jobs
read only that (worker/context.py). `job_ctx` builds the same from what the caller holds:
its database, its Redis (the arq pool; the streams share it unless told otherwise) and, for
jobs that call one, its LLM.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from shared.process.settings import Settings
from shared.redis_structures.reply_lease import ReplyLease
from shared.redis_structures.reply_stream import reply_streams
from shared.redis_structures.user_events import user_events
from worker.resources import RESOURCES, WorkerResources, worker_resources


class NoLLM:
    """The LLM of a ctx built for a job that must not call one: any use fails the test."""

    def __getattr__(self, attribute: str) -> Any:
        raise AssertionError(f"this job was not to use the LLM (it asked for .{attribute})")


def job_ctx(
    settings: Settings,
    db: Any,
    redis: Any,
    *,
    llm: Any = None,
    embedder: Any = None,
    streams_redis: Any = None,
    job_id: str | None = None,
    job_try: int | None = None,
) -> dict[str, Any]:
    """`redis` is arq's pool in the worker (tests/conftest.py's `arq_pool`); `job_id` and
    `job_try` are what arq adds for each job, left out as when a job is called outside arq."""
    streams = redis if streams_redis is None else streams_redis
    resources = WorkerResources(
        settings=settings,
        mongo_client=None,
        db=db,
        llm=NoLLM() if llm is None else llm,
        redis=redis,
        embedder=embedder,
        reply_streams=reply_streams(streams, settings),
        user_events=user_events(streams, settings),
        reply_lease=ReplyLease(redis, settings),
    )
    arq_keys = {"job_id": job_id, "job_try": job_try}
    return {RESOURCES: resources, "redis": redis} | {k: v for k, v in arq_keys.items() if v is not None}


def changed(ctx: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The same ctx with some resources replaced (another database, other settings, an LLM)."""
    return {**ctx, RESOURCES: dataclasses.replace(worker_resources(ctx), **changes)}
