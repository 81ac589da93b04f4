"""`GET /metrics`: Prometheus text format.

Counters (jobs, LLM calls, sockets) live in this process's registry as things happen. The
gauges that describe shared state (queue depth by function, outbox size, open dead
letters) are read from Redis and MongoDB at scrape time; a dependency that does not answer
within REDIS_TIMEOUT_SECONDS leaves its gauges out of this scrape (a gap in the graph, and
`coach_metrics_source_up` says which), rather than failing the whole scrape.

Who may read it: with METRICS_PUBLIC=false (the default) only an admin (Bearer token or the
dashboard's cookie) or a scraper sending `Authorization: Bearer <METRICS_TOKEN>`, since the
gauges (open sockets, file descriptors, queue depth) show an attacker how an attack goes.
Everyone else gets the 401/403 of the admin routes.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from service.api_docs import documented, text
from service.principal import bearer_token
from service.resources import ServiceResources, resources_of
from service.routes.admin import require_admin
from shared.process import metrics
from shared.queue.jobs import all_queues
from shared.queue.queue_scan import scan_queues
from shared.store.dead_letters import count_open
from shared.store.outbox import outbox_size

log = logging.getLogger(__name__)

SOURCE_UP = Gauge("coach_metrics_source_up", "Whether the last scrape could read this source", ["source"])
STATES = ("queued", "deferred", "in_progress")


async def refresh_queue_depth(state: ServiceResources) -> None:
    by_function: dict[str, dict[str, int]] = {}
    for name, row in (await scan_queues(state.arq, all_queues(state.settings))).items():
        counts = by_function.setdefault(metrics.function_label(name), dict.fromkeys(STATES, 0))
        for field in STATES:
            counts[field] += getattr(row, field)
    metrics.QUEUE_DEPTH.clear()  # functions no longer queued drop out
    for label, counts in by_function.items():
        for field, value in counts.items():
            metrics.QUEUE_DEPTH.labels(label, field).set(value)


async def refresh_store_gauges(state: ServiceResources) -> None:
    outbox, dead = await asyncio.gather(outbox_size(state.db), count_open(state.db))
    metrics.OUTBOX_SIZE.set(outbox)
    metrics.DEAD_LETTERS_OPEN.set(dead)


async def refreshed(source: str, refresh: Any, state: ServiceResources) -> None:
    try:
        async with asyncio.timeout(state.settings.redis_timeout_seconds * 2):
            await refresh(state)
        SOURCE_UP.labels(source).set(1)
    except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
        SOURCE_UP.labels(source).set(0)
        log.warning("metrics: %s not read (%s)", source, type(exc).__name__)


async def require_metrics_reader(request: Request) -> None:
    settings = resources_of(request).settings
    if settings.metrics_public:
        return
    token = bearer_token(request)
    if settings.metrics_token is not None and token is not None:
        if hmac.compare_digest(token.encode(), settings.metrics_token.get_secret_value().encode()):
            return
    await require_admin(request)


@documented(
    "GET",
    "Prometheus metrics (text exposition format); unless METRICS_PUBLIC: admins, or Bearer METRICS_TOKEN",
    {200: text("metrics")},
    access="admin",
)
async def metrics_endpoint(request: Request) -> Response:
    await require_metrics_reader(request)
    state = resources_of(request)
    await asyncio.gather(refreshed("redis", refresh_queue_depth, state), refreshed("mongodb", refresh_store_gauges, state))
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
