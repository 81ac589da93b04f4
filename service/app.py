"""The app factory: `uvicorn service.app:create_app --factory`.

Everything a request needs lives on `app.state`, made once in the lifespan: settings, the
Motor client and database, the arq pool, the reply streams' Redis client. Chat replies are
written by the worker (worker/reply.py); the service relays them (service/routes/replies.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from service.api_docs import documented, ok
from service.body_deadline import BodyDeadline
from service.body_limit import BodyLimit
from service.chat_limits import ChatLimits
from service.chat_page import chat_page_routes
from service.chat_socket import chat_socket
from service.connection_cap import ConnectionCap
from service.credentials import Passwords
from service.dashboard import dashboard_routes
from service.errors import EXCEPTION_HANDLERS
from service.login_throttle import LoginThrottle
from service.metrics_endpoint import metrics_endpoint
from service.openapi import build_openapi, serve_document
from service.readiness import Health, readiness
from service.registration_throttle import RegistrationThrottle
from service.resources import ServiceResources, cancel_and_wait
from service.routes import (
    account,
    admin,
    auth,
    conversations,
    events,
    jobs,
    limits,
    memories,
    memory,
    messages,
    operations,
    replies,
    retry,
    usage,
)
from service.socket_registry import SocketRegistry, listen_for_logouts
from service.stream_limits import StreamLimits
from shared.process.log_format import configure_logging
from shared.process.logs import one_line_for_cut_off_requests, redact_tokens_in
from shared.process.preflight import check_mongodb_reachable, refuse_in_memory_mongodb
from shared.process.resources import open_store
from shared.process.settings import Settings, SettingsError, exit_on_settings_error, load_settings
from shared.queue.arq_adapter.pool import lazy_pool
from shared.redis_structures.idempotency import IdempotencyKeys
from shared.redis_structures.live_limits import LiveLimits
from shared.redis_structures.reply_lease import ReplyLease
from shared.redis_structures.reply_stream import open_streams_redis, reply_streams
from shared.redis_structures.stream_reader import StreamReader
from shared.redis_structures.user_events import user_events
from shared.store.outbox import relay_forever

MAX_BODY_BYTES = 64 * 1024

log = logging.getLogger(__name__)


@documented("GET", "liveness", {200: ok(Health, "up")}, access="public")
async def health(request: Request) -> JSONResponse:
    return JSONResponse(Health(status="ok").model_dump())


def forwarded_client(settings: Settings) -> list[Middleware]:
    """The client's address from X-Forwarded-For, but only from the proxies FORWARDED_ALLOW_IPS
    names (uvicorn's own middleware, here in the app so the decision is ours): per-address
    limits (logins, registrations) must not be dodged by a rotating header. Launch uvicorn
    with `--no-proxy-headers`, else it trusts loopback's header before the app sees it."""
    if not settings.forwarded_allow_ips:
        return []
    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)]


def stop_if_it_died(task: asyncio.Task[None]) -> None:
    """These tasks catch every failure and go on; one that ended anyway leaves the process
    serving without it (streams never read): stop the process, so it is restarted."""
    if task.cancelled():
        return
    log.critical("background task %s ended (%r); stopping the service", task.get_coro(), task.exception())
    os.kill(os.getpid(), signal.SIGTERM)


def create_app(settings: Settings | None = None, *, mongo_client: Any = None) -> Starlette:
    """Build the service. A launcher that shares an in-memory database passes `mongo_client`.

    Called with no settings it is uvicorn's factory (`--factory`), the service's entry point:
    a bad setting then ends the process with exit 1 and one line naming it. Called with
    settings (the all-in-one, tests) it raises SettingsError like any library code."""
    if settings is None:
        with exit_on_settings_error():
            return create_app(load_settings(), mongo_client=mongo_client)
    if settings.jwt_secret is None:
        raise SettingsError("invalid configuration: JWT_SECRET must be set (at least 32 characters)")
    jwt_secret = settings.jwt_secret.get_secret_value()
    if mongo_client is None:
        # Here, not in the lifespan: uvicorn prints a lifespan failure as a traceback, while
        # the factory's SystemExit is one line. Redis may be down: enqueues go to the outbox.
        refuse_in_memory_mongodb(settings, "service")
        check_mongodb_reachable(settings)
    if os.environ.get("ADMIN_EMAILS"):
        # Admin is a stored role now; an email list let whoever registered the address first in.
        log.warning("ADMIN_EMAILS is ignored: grant admin with `python -m worker users grant-admin EMAIL`")
    configure_logging(settings.log_format, own_root=False)
    # uvicorn logs each WebSocket's URL, and ours carries the token.
    redact_tokens_in("uvicorn.error", "uvicorn.access")
    one_line_for_cut_off_requests("uvicorn.error")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # One owner: the exit stack closes, in reverse order, exactly what was opened here.
        async with contextlib.AsyncExitStack() as stack:
            arq = lazy_pool(settings)
            stack.push_async_callback(arq.aclose)
            core = await stack.enter_async_context(open_store(settings, mongo_client=mongo_client))
            streams_redis = open_streams_redis(
                settings.streams_url, settings.redis_timeout_seconds, settings.stream_keepalive_seconds
            )
            stack.push_async_callback(streams_redis.aclose)
            streams = reply_streams(streams_redis, settings)
            # One XREAD for every stream this process relays, instead of a connection each.
            reader = StreamReader(settings.streams_url, streams_redis, timeout=settings.redis_timeout_seconds)
            streams.reader = reader
            live_limits = LiveLimits(arq, settings)
            resources = ServiceResources(
                core=core,
                arq=arq,
                jwt_secret=jwt_secret,
                passwords=Passwords(
                    settings.password_hash_time_cost, settings.password_hash_memory_kib, settings.password_hash_concurrency
                ),
                chat_limits=ChatLimits(arq, settings, live_limits),
                live_limits=live_limits,
                login_throttle=LoginThrottle(arq, settings),
                registration_throttle=RegistrationThrottle(arq, settings),
                sockets=SocketRegistry(),
                reply_streams=streams,
                reply_lease=ReplyLease(arq, settings),
                idempotency_keys=IdempotencyKeys(arq, settings.idempotency_ttl_seconds),
                user_events=user_events(streams_redis, settings),
                stream_limits=StreamLimits(arq, settings),
            )
            resources.publish(app.state)
            relay = asyncio.create_task(
                relay_forever(core.db, arq, settings.redis_timeout_seconds, settings.outbox_relay_interval_seconds)
            )
            stack.callback(relay.cancel)
            logouts = asyncio.create_task(
                listen_for_logouts(settings.redis_url, resources.sockets, settings.redis_timeout_seconds)
            )
            stack.push_async_callback(cancel_and_wait, logouts)
            for background in (reader.run(), resources.stream_limits.keep_forever()):
                task = asyncio.create_task(background)
                task.add_done_callback(stop_if_it_died)
                stack.push_async_callback(cancel_and_wait, task)
            yield

    routes = [
        Route("/healthz", health),
        Route("/readyz", readiness),
        Route("/api/v1/auth/register", auth.register, methods=["POST"]),
        Route("/api/v1/auth/login", auth.login, methods=["POST"]),
        Route("/api/v1/auth/logout", auth.logout, methods=["POST"]),
        Route("/api/v1/auth/me", auth.me),
        Route("/api/v1/auth/session", auth.session),
        Route("/api/v1/chat/messages", messages.messages, methods=["GET", "POST"]),
        Route("/api/v1/chat/replies/{reply_id}/stream", replies.stream),
        Route("/api/v1/chat/replies/{reply_id}", replies.reply, methods=["GET", "DELETE"]),
        Route("/api/v1/chat/replies/{reply_id}/retry", retry.retry, methods=["POST"]),
        Route("/api/v1/chat/active-streams", replies.active_streams),
        Route("/api/v1/events", events.events),
        Route("/api/v1/conversations", conversations.conversations, methods=["GET", "POST"]),
        Route("/api/v1/conversations/{conversation_id}", conversations.conversation, methods=["PATCH", "DELETE"]),
        Route("/api/v1/memory", memory.list_memory),
        Route("/api/v1/memory/reflections", memory.request_reflection, methods=["POST"]),
        Route("/api/v1/memory/graph", memory.memory_graph),
        Route("/api/v1/memory/search", memory.search_memory),
        Route("/api/v1/memory/graph/entities/{entity_id}/split", memory.split_entity, methods=["POST"]),
        Route("/api/v1/memory/points", memories.points, methods=["GET", "POST"]),
        Route("/api/v1/memory/points/{memory_id}", memories.point, methods=["PATCH", "DELETE"]),
        Route("/api/v1/memory/points/{memory_id}/history", memories.memory_history),
        Route("/api/v1/memory/contexts/{context_id}", account.delete_context, methods=["DELETE"]),
        Route("/api/v1/memory/contexts/{context_id}/points/{key}", account.delete_point, methods=["DELETE"]),
        Route("/api/v1/account", account.delete, methods=["DELETE"]),
        Route("/api/v1/account/export", account.export),
        Route("/api/v1/usage", usage.my_usage),
        Route("/api/v1/admin/usage", usage.all_usage),
        Route("/api/v1/admin/failed-jobs", admin.failed_jobs),
        Route("/api/v1/admin/failed-jobs/requeue", admin.requeue_every, methods=["POST"]),
        Route("/api/v1/admin/failed-jobs/{dead_letter_id}/requeue", admin.requeue_one, methods=["POST"]),
        Route("/api/v1/jobs/{job_id}", jobs.job, methods=["GET", "DELETE"]),
        Route("/api/v1/admin/queue", operations.queue),
        Route("/api/v1/admin/workers", operations.workers),
        Route("/api/v1/admin/jobs", operations.jobs),
        Route("/api/v1/admin/crons", operations.crons),
        Route("/api/v1/admin/crons/{name}/run", operations.run_cron, methods=["POST"]),
        Route("/api/v1/admin/activity", operations.activity),
        Route("/api/v1/admin/limits", limits.limits, methods=["GET", "PUT"]),
        Route("/api/v1/admin/jobs/{job_id}/requeue", operations.requeue_job, methods=["POST"]),
        Route("/metrics", metrics_endpoint),
        *dashboard_routes(),
        *chat_page_routes(),
        WebSocketRoute("/ws/chat", chat_socket),
    ]
    # Built from the routes' own declarations; a route served undocumented fails here.
    routes.append(Route("/openapi.json", serve_document(build_openapi(routes))))
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(ConnectionCap, limit=settings.open_connection_limit),
            *forwarded_client(settings),
            Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES),
            Middleware(BodyDeadline, seconds=settings.http_body_timeout_seconds),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
