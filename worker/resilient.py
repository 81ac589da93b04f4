"""The worker every launcher runs: our jobs and options on the arq adapter's ResilientWorker
(shared/queue/arq_adapter/worker.py: outage riding, heartbeats, wake on enqueue)."""

from __future__ import annotations

from typing import Any, Literal

from shared.process.settings import Settings
from shared.queue.arq_adapter.worker import ResilientWorker
from worker.arq_options import chat_worker_options, worker_options
from worker.resources import worker_resources

Queues = Literal["all", "background", "chat"]


def create_worker(settings: Settings, *, queues: Queues = "all", **overrides: Any) -> ResilientWorker:
    """The worker every launcher runs: our arq options, outage riding and heartbeats.

    `all` (the default): the background worker, which runs the chat queue's worker beside
    it on the same loop, sharing its MongoDB and LLM clients; it stops that one gracefully
    with itself, and stops itself if that one dies. `background`, `chat`: one queue only.
    """
    options = chat_worker_options(settings) if queues == "chat" else worker_options(settings)
    worker = ResilientWorker(
        **{**options, **overrides},
        follow_up_queue=settings.queue_name,
        heartbeat_seconds=settings.worker_heartbeat_seconds,
        redis_retry_cap_seconds=settings.worker_redis_retry_cap_seconds,
    )
    if queues == "all":
        worker.make_companion = lambda ctx: create_worker(settings, queues="chat", ctx=companion_ctx(ctx), handle_signals=False)
    return worker


def companion_ctx(ctx: dict[str, Any]) -> dict[str, Any]:
    """The chat worker's ctx: one MongoDB client and one LLM client for both workers."""
    resources = worker_resources(ctx)
    return {"settings": resources.settings, "mongo_client": resources.mongo_client, "llm": resources.llm}
