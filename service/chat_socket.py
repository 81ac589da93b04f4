"""`WS /ws/chat?token=...`: chat with the coach; closing the socket hands the session to the worker.

Browsers cannot set headers on a WebSocket, so the token rides in the query string.

The socket is a client of the same machinery as `POST /api/v1/chat/messages` and the SSE
stream: a `message` frame goes through service/reply_start.py (limits, budget, one reply
per session; the worker writes the reply), is answered with `accepted`, and the reply's
stream is relayed as `chunk` frames (a `reset` frame: show its text instead, then go on)
and one `done` or `error`. `{"type": "resume",
"reply_id", "after"}` relays a reply's stream from after an event id (`"0-0"`: from the
start), for a client that reconnected. Closing the socket stops the relay, never the reply:
the worker writes and stores it anyway.

Each socket is a reader task and at most one relay task. A disconnect, a failed send, a
logout or idleness ends the socket at once.

Close codes (the 4xxx range is the application's; each echoes an HTTP status):
- 4401: bad or expired token, or the session was logged out (on any service process)
- 4408: no frame from the client for `WS_IDLE_SECONDS` (while no reply is being relayed)
- 4429: the user already has `MAX_SOCKETS_PER_USER` sockets open

Every frame, whatever its kind, costs one from the socket's and the user's frame budgets
(service/frame_budget.py); past them it is answered `rate_limited` and the socket's next
frame is read only when a frame is allowed again (at most a second later). A client that
reads nothing for WS_SEND_TIMEOUT_SECONDS while a frame waits to go out is taken for gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import MutableMapping
from typing import Any, Literal

from pydantic import BaseModel
from starlette.websockets import WebSocket, WebSocketDisconnect

from service.conversation_choice import conversation_to_write
from service.enqueue import enqueue_extraction
from service.errors import ApiError
from service.frames import (
    AcceptedFrame,
    BudgetExhaustedFrame,
    ChunkFrame,
    DoneFrame,
    ErrorFrame,
    MessageFrame,
    ReplyErrorFrame,
    ResetFrame,
    ResumeFrame,
    RetryLaterFrame,
    parse_client_frame,
)
from service.principal import Principal, Unauthorized, authenticate, token_principal
from service.reply_start import Accepted, Refused, start_reply
from service.resources import resources_of
from service.socket_registry import CLOSE_UNAUTHORIZED
from service.tokens import query_token
from shared.process.metrics import WEBSOCKETS_OPEN
from shared.redis_structures.reply_stream import START, KeepAlive, ReplyStreams, StreamEvent
from shared.store.replies import FINISHED, owned_reply

log = logging.getLogger(__name__)

CLOSE_IDLE = 4408
CLOSE_INTERNAL_ERROR = 1011  # the standard code for a server-side failure
CLOSE_TOO_MANY_SOCKETS = 4429
# After a refused frame (over the limit, busy, malformed) the socket's next frame is read this
# much later: at most 100 refusals a second per socket.
REFUSED_FRAME_PAUSE_SECONDS = 0.01
# After a frame over budget, the next is read when the budget allows one, but within this.
OVER_BUDGET_PAUSE_SECONDS = 1.0
ENDED = "the reply ended at or before that event; nothing comes after it"


class ClientGone(Exception):
    """A send failed: nobody is listening any more."""


class ChatConnection:
    def __init__(self, ws: WebSocket, principal: Principal) -> None:
        self.ws = ws
        self.principal = principal
        self.state = resources_of(ws)
        self.id = uuid.uuid4().hex
        self.relay: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.frames = self.state.chat_limits.frames.for_socket()
        self._send_lock = asyncio.Lock()  # the reader and the relay both send

    @property
    def relaying(self) -> bool:
        return self.relay is not None and not self.relay.done()

    def request_close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.ended.set()

    async def send(self, frame: BaseModel) -> None:
        try:
            # A client that reads nothing fills the socket's buffers, and the send waits: for
            # a bounded time, or a dropped client's socket would stay open (and counted).
            async with asyncio.timeout(self.state.settings.ws_send_timeout_seconds), self._send_lock:
                await self.ws.send_text(frame.model_dump_json(exclude_none=True))
        except (WebSocketDisconnect, OSError, RuntimeError) as exc:  # TimeoutError is an OSError
            self.ended.set()
            raise ClientGone from exc

    async def run(self) -> None:
        reader = asyncio.create_task(self.read_frames())
        upkeep = asyncio.create_task(self.keep_lease())
        try:
            await self.ended.wait()
        finally:
            tasks = [t for t in (reader, upkeep, self.relay) if t is not None]
            for task in tasks:
                task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("chat socket task failed for session %s", self.principal.session_id, exc_info=outcome)
        if self.close_code is not None:
            with contextlib.suppress(Exception):  # the client may already be gone
                await self.ws.close(code=self.close_code, reason=self.close_reason)

    async def keep_lease(self) -> None:
        limits = self.state.chat_limits
        while True:
            await asyncio.sleep(limits.refresh_every)
            await limits.keep(self.principal.user_id, self.id)

    async def read_frames(self) -> None:
        idle = self.state.settings.ws_idle_seconds
        try:
            while True:
                try:
                    async with asyncio.timeout(idle):
                        message = await self.ws.receive()
                except TimeoutError:
                    if self.relaying:
                        continue
                    self.request_close(CLOSE_IDLE, f"no message for {idle:g} s")
                    return
                if message["type"] == "websocket.disconnect":
                    return
                if not await self.take(message):
                    # Refused: read this client's next frame a little later. A client that
                    # floods then fills its own socket buffer and waits (TCP backpressure),
                    # instead of the service spending a core on answering refusals.
                    await asyncio.sleep(REFUSED_FRAME_PAUSE_SECONDS)
                # Every frame gives the other connections a turn, refused or not.
                await asyncio.sleep(0)
        except (ClientGone, WebSocketDisconnect):
            return
        except Exception:
            # A message could not be taken (MongoDB failed, say): end the socket as a crash
            # would, but say so. Nothing half-done stays: reply_start takes back its lease.
            log.exception("chat socket failed for session %s", self.principal.session_id)
            self.request_close(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            self.ended.set()

    async def take(self, message: MutableMapping[str, Any]) -> bool:
        """Answer the frame or refuse it; False when refused."""
        over = await self.state.chat_limits.frames.take(self.frames, self.principal.user_id)
        if over is not None:
            retry_after, detail = over
            await self.send(RetryLaterFrame(code="rate_limited", detail=f"too many frames: {detail}", retry_after=retry_after))
            # Read nothing until a frame is allowed again: a flood waits in the client's own
            # buffers (TCP backpressure) instead of being read and refused here.
            await asyncio.sleep(min(retry_after, OVER_BUDGET_PAUSE_SECONDS))
            return False
        if message.get("text") is None:
            await self.send(ErrorFrame(code="invalid_frame", detail="binary frames are not accepted; send JSON text"))
            return False
        frame = parse_client_frame(message["text"], self.state.settings.max_message_chars)
        if isinstance(frame, ErrorFrame):
            await self.send(frame)
            return False
        try:
            # Logouts are broadcast, but a broadcast can be missed (Redis down): check again.
            await authenticate(self.ws, query_token(self.ws))
        except Unauthorized as exc:
            self.request_close(CLOSE_UNAUTHORIZED, exc.detail)
            return False
        if isinstance(frame, ResumeFrame):
            return await self.resume(frame)
        return await self.accept(frame)

    async def accept(self, frame: MessageFrame) -> bool:
        try:
            conversation = await conversation_to_write(self.state.db, self.principal.user_id, frame.conversation_id)
        except ApiError as exc:
            code: Literal["not_found", "conversation_archived"] = (
                "not_found" if exc.status_code == 404 else "conversation_archived"
            )
            await self.send(ErrorFrame(code=code, detail=exc.detail))
            return False
        outcome = await start_reply(self.state, self.principal, frame.content, conversation.id)
        if isinstance(outcome, Refused):
            await self.send(refusal_frame(outcome))
            return False
        assert isinstance(outcome, Accepted)
        await self.send(
            AcceptedFrame(
                conversation_id=conversation.id, message_id=outcome.message_id, reply_id=outcome.reply_id, job_id=outcome.job_id
            )
        )
        self.follow(outcome.reply_id, START)
        return True

    async def resume(self, frame: ResumeFrame) -> bool:
        reply = await owned_reply(self.state.db, frame.reply_id, self.principal.user_id)
        if reply is None:
            await self.send(ErrorFrame(code="not_found", detail="no reply with that id"))
            return False
        streams: ReplyStreams = self.state.reply_streams
        if reply.status in FINISHED and not await streams.exists(reply.reply_id):
            ttl = self.state.settings.stream_ttl_seconds
            detail = f"the reply ended more than {ttl} s ago and its stream is gone; its message is in /api/v1/chat/messages"
            await self.send(ErrorFrame(code="gone", detail=detail))
            return False
        if await streams.ended_by(reply.reply_id, frame.after):
            await self.send(ErrorFrame(code="ended", detail=ENDED))
            return False
        self.follow(frame.reply_id, frame.after)
        return True

    def follow(self, reply_id: str, after: str) -> None:
        """Relay one reply at a time: a new one replaces the relay of the last."""
        if self.relay is not None:
            self.relay.cancel()
        self.relay = asyncio.create_task(self.relay_stream(reply_id, after))

    async def relay_stream(self, reply_id: str, after: str) -> None:
        streams: ReplyStreams = self.state.reply_streams
        try:
            ended = False
            async for item in streams.follow(reply_id, after, self.state.settings.stream_keepalive_seconds):
                if not isinstance(item, KeepAlive):
                    ended = item.terminal
                    await self.send(stream_frame(reply_id, item))
            if not ended:  # `after` was past the end the reply reached meanwhile
                await self.send(ErrorFrame(code="ended", detail=ENDED))
        except ClientGone:
            return
        except Exception:
            # Redis lost mid-relay, say: the reply goes on in the worker; say so, and the
            # client can `resume` from its last event id.
            log.exception("relaying reply %s failed", reply_id)
            with contextlib.suppress(ClientGone):
                await self.send(
                    RetryLaterFrame(code="unavailable", detail="the reply's stream could not be read; resume it shortly")
                )


def stream_frame(reply_id: str, event: StreamEvent) -> BaseModel:
    data = event.data
    if event.event == "chunk":
        return ChunkFrame(text=data["text"], reply_id=reply_id, id=event.id)
    if event.event == "reset":
        return ResetFrame(text=data["text"], reply_id=reply_id, id=event.id)
    if event.event == "done":
        return DoneFrame(reply_id=reply_id, id=event.id, **data)
    return ReplyErrorFrame(code=data.get("code", "error"), detail=data.get("detail", ""), reply_id=reply_id, id=event.id)


def refusal_frame(refused: Refused) -> BaseModel:
    if refused.code == "budget_exhausted":
        assert refused.resets_at is not None
        return BudgetExhaustedFrame(detail=refused.detail, resets_at=refused.resets_at)
    return RetryLaterFrame(code=refused.code, detail=refused.detail, retry_after=refused.retry_after)


async def close_quietly(ws: WebSocket, code: int, reason: str) -> None:
    """Close with `code`; a client already gone is not an error (it logged one as an
    "Exception in ASGI application" before)."""
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        await ws.close(code=code, reason=reason)


async def chat_socket(ws: WebSocket) -> None:
    try:
        await ws.accept()
    except (WebSocketDisconnect, OSError):
        return  # gone during the handshake
    state = resources_of(ws)
    token = query_token(ws)
    try:
        principal = token_principal(ws, token)
    except Unauthorized as exc:
        await close_quietly(ws, CLOSE_UNAUTHORIZED, exc.detail)
        return
    conn = ChatConnection(ws, principal)
    # Registered before the session is checked, so a logout in between is not missed.
    state.sockets.add(principal.session_id, conn)
    WEBSOCKETS_OPEN.inc()
    try:
        try:
            await authenticate(ws, token)
        except Unauthorized as exc:
            await close_quietly(ws, CLOSE_UNAUTHORIZED, exc.detail)
            return
        if not await state.chat_limits.open_socket(principal.user_id, conn.id):
            limit = state.settings.max_sockets_per_user
            await close_quietly(ws, CLOSE_TOO_MANY_SOCKETS, f"at most {limit} open chat sockets per user")
            return
        try:
            await conn.run()
        finally:
            await state.chat_limits.close_socket(principal.user_id, conn.id)
            # Whatever ended the socket (client gone, logout, idle, server error), the
            # session's words so far go to the worker. A reply still being written is
            # stored later and extracted then (worker/reply.py, the session sweep).
            try:
                await enqueue_extraction(state, principal.user_id, principal.session_id)
            except Exception:
                log.exception("could not enqueue extraction for session %s", principal.session_id)
    finally:
        state.sockets.remove(principal.session_id, conn)
        WEBSOCKETS_OPEN.dec()
