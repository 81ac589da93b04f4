"""Chat replies over HTTP: send a message, follow its reply as Server-Sent Events, look it up, cancel it.

- `POST /api/v1/chat/messages` → 202 with the reply's id and stream URL (service/reply_start.py).
- `GET /api/v1/chat/replies/{id}/stream`: the reply's events (shared/redis_structures/reply_stream.py) as
  SSE, each with its stream id as `id:`; `Last-Event-ID` resumes after it. A keep-alive
  comment every STREAM_KEEPALIVE_SECONDS. Past STREAM_TTL_SECONDS a finished reply's stream
  is gone: 410, and its text is in `/api/v1/chat/messages`.
- `GET` / `DELETE /api/v1/chat/replies/{id}`: status and text so far; cancel.
- `GET /api/v1/chat/active-streams`: the caller's replies still queued or being written.

Every reply is its owner's only: anyone else gets the same 404 as for an id that never existed.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from service.api_docs import LAST_EVENT_ID, documented, empty, error, event_stream, ok
from service.conversation_choice import conversation_to_write
from service.errors import ApiError, parse_body
from service.principal import Principal, require_principal
from service.reply_start import Accepted, Refused, start_reply, stream_url
from service.resources import ServiceResources, resources_of
from service.routes.reply_schemas import ActiveReply, ActiveStreams, NewMessage, ReplyAccepted, is_blank
from shared.queue.arq_adapter.control import request_abort
from shared.redis_structures.reply_stream import START, KeepAlive, ReplyStreams, StreamEvent, is_entry_id
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.replies import FINISHED, Reply, active_replies, cancel_reply, owned_reply, status_of

log = logging.getLogger(__name__)

NOT_YOURS = "no reply with that id"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # proxies must not buffer the stream
RETRY_MS = 1_000  # how soon an EventSource reconnects after a dropped connection
REFUSAL_STATUS = {"rate_limited": 429, "budget_exhausted": 429, "busy": 409, "unavailable": 503}


def accepted_response(outcome: Accepted, conversation_id: str | None) -> JSONResponse:
    """202: the message (or the retry) is stored and its reply queued."""
    accepted = ReplyAccepted(
        conversation_id=conversation_id,
        message_id=outcome.message_id,
        reply_id=outcome.reply_id,
        job_id=outcome.job_id,
        stream_url=outcome.stream_url,
    )
    return JSONResponse(accepted.model_dump(), status_code=202)


def refusal_response(outcome: Refused) -> JSONResponse:
    # `errors` names the refusal for programs: rate_limited, budget_exhausted (with
    # `resets_at`), busy, unavailable. Nothing was stored; Retry-After says when to resend.
    body: dict[str, object] = {"detail": outcome.detail, "errors": [{"field": "content", "message": outcome.code}]}
    if outcome.resets_at is not None:
        body["resets_at"] = outcome.resets_at.isoformat()
    headers = {"Retry-After": str(outcome.retry_after)} if outcome.retry_after else None
    return JSONResponse(body, REFUSAL_STATUS[outcome.code], headers=headers)


async def post_message(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    state = resources_of(request)
    body = await parse_body(request, NewMessage)
    content = body.content
    limit = state.settings.max_message_chars
    if is_blank(content):
        raise ApiError(422, "content: is empty", [{"field": "content", "message": "is empty"}])
    if len(content) > limit:
        message = f"is {len(content)} characters; the maximum is {limit}"
        raise ApiError(422, f"content: {message}", [{"field": "content", "message": message}])
    conversation = await conversation_to_write(state.db, principal.user_id, body.conversation_id)
    outcome = await start_reply(state, principal, content, conversation.id)
    if not isinstance(outcome, Accepted):
        return refusal_response(outcome)
    return accepted_response(outcome, conversation.id)


async def _owned(request: Request) -> tuple[Reply, Principal]:
    principal = await require_principal(request)
    reply = await owned_reply(resources_of(request).db, request.path_params["reply_id"], principal.user_id)
    if reply is None:
        raise ApiError(404, NOT_YOURS)
    return reply, principal


async def reply_status(request: Request) -> JSONResponse:
    reply, _ = await _owned(request)
    if reply.status not in FINISHED:  # the text so far lives in the stream until the end
        streams: ReplyStreams = resources_of(request).reply_streams
        reply.text, _ = await streams.text(reply.reply_id)
    return JSONResponse(reply.model_dump(mode="json"))


async def cancel(request: Request) -> JSONResponse:
    reply, principal = await _owned(request)
    user_id, state = principal.user_id, resources_of(request)
    before = await cancel_reply(state.db, reply.reply_id, user_id, datetime.now(UTC))
    if before is None:
        raise ApiError(409, f"reply already finished: {await status_of(state.db, reply.reply_id)}")
    if before == "queued":
        # Nobody is writing it; a worker that picks the job up finds it cancelled and stops.
        await state.reply_streams.append(reply.reply_id, "error", {"code": "cancelled", "detail": "the reply was cancelled"})
    # The session is free at once, so Stop then Retry (or a new message) is not refused `busy`
    # while the worker winds down: a cancelled reply stores no message, and the lease is the
    # cancelled reply's own, so the worker's later free cannot free a newer reply's.
    await state.reply_lease.free(reply.session_id, reply.reply_id)
    # Writing: arq's abort cancels the job's task on its worker, which closes the LLM stream
    # and ends the reply's stream; queued: the abort keeps a worker from starting it at all.
    await request_abort(state.arq, [reply.job_id])
    found = await owned_reply(state.db, reply.reply_id, user_id)
    assert found is not None
    return JSONResponse(found.model_dump(mode="json"))


@documented(
    "GET",
    "the reply: status, text so far, usage and timings once done",
    {200: ok(Reply, "the reply"), 404: error("no reply with that id (or another user's)")},
)
@documented(
    "DELETE",
    "cancel the reply: the worker stops the LLM stream; the stream ends with error `cancelled`",
    {200: ok(Reply, "cancelled"), 404: error("no reply with that id (or another user's)"), 409: error("the reply already ended")},
)
async def reply(request: Request) -> Response:
    return await (cancel(request) if request.method == "DELETE" else reply_status(request))


@documented("GET", "the caller's replies still queued or being written", {200: ok(ActiveStreams, "active replies")})
async def active_streams(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    replies = await active_replies(resources_of(request).db, principal.user_id)
    body = ActiveStreams(
        replies=[
            ActiveReply(
                reply_id=r.reply_id,
                conversation_id=r.conversation_id,
                status=r.status,
                message_id=r.message_id,
                stream_url=stream_url(r.reply_id),
                created_at=r.created_at,
            )
            for r in replies
        ]
    )
    return JSONResponse(body.model_dump(mode="json"))


def sse(event: StreamEvent) -> str:
    return f"id: {event.id}\nevent: {event.event}\ndata: {json.dumps(event.data, separators=(',', ':'))}\n\n"


@documented(
    "GET",
    "the reply's events as they are written; `Last-Event-ID` resumes after an event",
    {
        200: event_stream(
            "Server-Sent Events: `chunk` ({text}) events, then one `done` ({message_id, usage, latency_ms, "
            "first_chunk_ms, model}) or `error` ({code, detail}); each with an `id:`, and a keep-alive comment "
            "every STREAM_KEEPALIVE_SECONDS"
        ),
        204: empty("nothing comes after the given event: an EventSource stops reconnecting"),
        400: error("Last-Event-ID is not an event id"),
        404: error("no reply with that id (or another user's)"),
        410: error("the reply ended more than STREAM_TTL_SECONDS ago; its message is in /chat/messages"),
        503: error("Redis, which holds the reply's stream, cannot be reached right now"),
    },
    headers=[LAST_EVENT_ID],
)
async def stream(request: Request) -> Response:
    reply, principal = await _owned(request)
    state = resources_of(request)
    streams: ReplyStreams = state.reply_streams
    source, after = "Last-Event-ID", request.headers.get("last-event-id")
    if not after:
        source, after = "after", request.query_params.get("after") or START
    if not is_entry_id(after):
        raise ApiError(400, f"{source} {after[:64]!r} is not an event id of this stream (like 1700000000000-0)")
    try:
        gone = reply.status in FINISHED and not await streams.exists(reply.reply_id)
        ended = not gone and await streams.ended_by(reply.reply_id, after)
    except REDIS_DOWN as exc:
        raise ApiError(503, f"the reply's stream cannot be read right now ({type(exc).__name__}); try again shortly") from None
    if gone:
        raise ApiError(
            410,
            f"the reply ended more than STREAM_TTL_SECONDS ({state.settings.stream_ttl_seconds} s) ago and its stream is gone; "
            "the stored message is in /api/v1/chat/messages",
        )
    if ended:
        # Nothing comes after the end. 204 is what tells an EventSource to stop reconnecting.
        return Response(status_code=204)
    holder = uuid.uuid4().hex
    refused = await state.stream_limits.open(principal.user_id, principal.session_id, holder)
    if refused is not None:
        raise ApiError(429, refused, [{"field": "stream", "message": "too_many_streams"}])
    return EventStream(
        events(state, reply.reply_id, after, principal.session_id), functools.partial(state.stream_limits.close, holder)
    )


class EventStream(StreamingResponse):
    """An SSE response that gives its stream's place back however it ends (finished, client
    gone, server stopping), whether or not its events were ever iterated."""

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], Awaitable[None]]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self.on_close = on_close
        self.content = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                await self.content.aclose()  # type: ignore[attr-defined]  # an async generator
            finally:
                await self.on_close()


class LogoutWatch:
    """An open stream in the socket registry: a logout of its session (on any service process)
    ends it at its next event or keep-alive, as it closes the session's sockets. The client's
    reconnect then gets 401, which stops an EventSource for good."""

    def __init__(self) -> None:
        self.logged_out = False

    def request_close(self, code: int, reason: str) -> None:
        self.logged_out = True


async def events(state: ServiceResources, reply_id: str, after: str, session_id: str) -> AsyncIterator[str]:
    streams: ReplyStreams = state.reply_streams
    settings = state.settings
    watch = LogoutWatch()
    state.sockets.add(session_id, watch)
    try:
        yield f"retry: {RETRY_MS}\n\n"
        async for item in streams.follow(reply_id, after, settings.stream_keepalive_seconds):
            if watch.logged_out:
                yield ": session logged out\n\n"
                return
            if isinstance(item, KeepAlive):
                yield ": keep-alive\n\n"
                # A reply whose worker vanished ends `failed` (cleanup_streams) and its stream
                # gets its terminal event then; until that, keep-alives say the line is up.
                continue
            yield sse(item)
    except REDIS_DOWN as exc:
        # Redis went away mid-stream: end the response; the client (an EventSource by itself)
        # reconnects with the Last-Event-ID it has, and gets what follows once Redis is back.
        log.warning("reply %s: its stream could not be read (%s); the response ends here", reply_id, exc)
    finally:
        state.sockets.remove(session_id, watch)
