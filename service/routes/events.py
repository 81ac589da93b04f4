"""`GET /api/v1/events`: the caller's own events as Server-Sent Events (shared/redis_structures/user_events.py).

A page keeps one open: messages sent from the user's other tabs and devices (`message`), the
replies they start (`reply`), and "the coach noted N things" (`noted`) when an extraction or
a reflection finishes. Each event's `id:` is its stream id; `Last-Event-ID` resumes after it.

A fresh connection (no `Last-Event-ID`) starts with `ready`, whose id is the newest event's
(so a reconnect resumes from there), then one `reply` event per reply still queued or being
written: what the page used to ask `/api/v1/chat/active-streams` for. A reply that starts
meanwhile may come twice (in that list and as it happens); pages go by `reply_id`.
A keep-alive comment every STREAM_KEEPALIVE_SECONDS; a logout of the session ends it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from service.api_docs import LAST_EVENT_ID, documented, error, event_stream
from service.errors import ApiError, parse_query
from service.principal import require_principal
from service.reply_start import stream_url
from service.resources import ServiceResources, resources_of
from service.routes.replies import RETRY_MS, SSE_HEADERS, LogoutWatch
from shared.redis_structures.reply_stream import KeepAlive, is_entry_id
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.redis_structures.user_events import UserEvents
from shared.store.replies import active_replies

log = logging.getLogger(__name__)


class EventsQuery(BaseModel):
    """`after` stands in for the Last-Event-ID header where a client cannot set headers."""

    after: str | None = Field(None, description="resume after this event id (like 1700000000000-0); Last-Event-ID wins")


def sse(event_id: str, event: str, data: dict[str, Any]) -> str:
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@documented(
    "GET",
    "the caller's own events, from every tab and device; `Last-Event-ID` resumes after an event",
    {
        200: event_stream(
            "Server-Sent Events, each with an `id:`: `ready` (a fresh connection), `reply` ({conversation_id, reply_id, "
            "message_id, stream_url[, retry_of]}: replies still being written, then retries), `message` ({conversation_id, "
            "message_id, content, reply_id, stream_url}: sent from any of the user's tabs or devices), `noted` ({count, "
            "source}: an extraction or a reflection finished); a keep-alive comment every STREAM_KEEPALIVE_SECONDS"
        ),
        400: error("Last-Event-ID (or after) is not an event id"),
        503: error("the event stream cannot be read right now"),
    },
    query=EventsQuery,
    headers=[LAST_EVENT_ID],
)
async def events(request: Request) -> Response:
    principal = await require_principal(request)
    state = resources_of(request)
    stream: UserEvents = state.user_events
    source, after = "Last-Event-ID", request.headers.get("last-event-id")
    if not after:
        source, after = "after", parse_query(request.query_params, EventsQuery).after
    if after is not None and not is_entry_id(after):
        raise ApiError(400, f"{source} {after[:64]!r} is not an event id of this stream (like 1700000000000-0)")
    opening: list[str] = []
    if after is None:
        try:
            after = await stream.last_id(principal.user_id)
        except REDIS_DOWN as exc:
            raise ApiError(503, f"your events cannot be read right now ({type(exc).__name__}); try again shortly") from None
        opening.append(sse(after, "ready", {}))
        for reply in await active_replies(state.db, principal.user_id):
            data = {
                "conversation_id": reply.conversation_id,
                "reply_id": reply.reply_id,
                "message_id": reply.message_id,
                "stream_url": stream_url(reply.reply_id),
            }
            opening.append(sse(after, "reply", data))
    return StreamingResponse(
        _relay(state, principal.user_id, principal.session_id, after, opening),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def _relay(state: ServiceResources, user_id: str, session_id: str, after: str, opening: list[str]) -> AsyncIterator[str]:
    stream: UserEvents = state.user_events
    watch = LogoutWatch()
    state.sockets.add(session_id, watch)
    try:
        yield f"retry: {RETRY_MS}\n\n"
        for line in opening:
            yield line
        async for item in stream.follow(user_id, after, state.settings.stream_keepalive_seconds):
            if watch.logged_out:
                yield ": session logged out\n\n"
                return
            if isinstance(item, KeepAlive):
                yield ": keep-alive\n\n"
                continue
            yield sse(item.id, item.event, item.data)
    except REDIS_DOWN as exc:
        # The client reconnects by itself with the last id it has, and misses nothing.
        log.warning("user %s: the event stream could not be read (%s); the response ends here", user_id, exc)
    finally:
        state.sockets.remove(session_id, watch)
