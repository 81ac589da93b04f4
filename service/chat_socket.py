"""`WS /ws/chat?token=...`: chat with the coach; closing the socket hands the session to the worker.

Browsers cannot set headers on a WebSocket, so the token rides in the query string.

Each socket is a reader task and at most one reply task. The reader takes frames, checks
the limits (`service/chat_limits.py`) and starts a reply; a message that arrives while a
reply is being written is refused with `busy`, never queued. A disconnect, a failed send, a
logout or idleness ends the socket at once: the reply being written is cancelled (which
closes the LLM stream) and frames not yet answered are dropped.

Close codes (the 4xxx range is the application's; each echoes an HTTP status):
- 4401: bad or expired token, or the session was logged out (on any service process)
- 4408: no frame from the client for `WS_IDLE_SECONDS`
- 4429: the user already has `MAX_SOCKETS_PER_USER` sockets open
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from service.enqueue import enqueue_extraction
from service.frames import (
    BudgetExhaustedFrame,
    ChunkFrame,
    DoneFrame,
    ErrorFrame,
    MessageFrame,
    RetryLaterFrame,
    parse_client_frame,
)
from service.principal import Principal, Unauthorized, authenticate, token_principal
from service.socket_registry import CLOSE_UNAUTHORIZED
from service.tokens import query_token
from shared.llm import LLMBudgetExhausted, LLMError
from shared.llm.attribution import attribute_llm_calls
from shared.llm.budget import check_daily_budget
from shared.messages import recent_session_messages, store_message
from shared.metrics import WEBSOCKETS_OPEN
from shared.recall import recall

log = logging.getLogger(__name__)

CLOSE_IDLE = 4408
CLOSE_INTERNAL_ERROR = 1011  # the standard code for a server-side failure
CLOSE_TOO_MANY_SOCKETS = 4429
# After a refused frame (over the limit, busy, malformed) the socket's next frame is read this
# much later: at most 100 refusals a second per socket.
REFUSED_FRAME_PAUSE_SECONDS = 0.01

Frame = ChunkFrame | DoneFrame | ErrorFrame | RetryLaterFrame | BudgetExhaustedFrame


class ClientGone(Exception):
    """A send failed: nobody is listening any more."""


class ChatConnection:
    def __init__(self, ws: WebSocket, principal: Principal) -> None:
        self.ws = ws
        self.principal = principal
        self.state = ws.app.state
        self.id = uuid.uuid4().hex
        self.reply: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self._send_lock = asyncio.Lock()  # the reader and the reply both send
        self._refused_until = 0.0  # monotonic; the bucket is known empty until then

    @property
    def replying(self) -> bool:
        return self.reply is not None and not self.reply.done()

    def request_close(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.ended.set()

    async def send(self, frame: Frame) -> None:
        try:
            async with self._send_lock:
                await self.ws.send_text(frame.model_dump_json(exclude_none=True))
        except (WebSocketDisconnect, OSError, RuntimeError) as exc:
            self.ended.set()
            raise ClientGone from exc

    async def run(self) -> None:
        reader = asyncio.create_task(self.read_frames())
        upkeep = asyncio.create_task(self.keep_leases())
        try:
            await self.ended.wait()
        finally:
            tasks = [t for t in (reader, upkeep, self.reply) if t is not None]
            for task in tasks:
                task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("chat socket task failed for session %s", self.principal.session_id, exc_info=outcome)
        if self.close_code is not None:
            with contextlib.suppress(Exception):  # the client may already be gone
                await self.ws.close(code=self.close_code, reason=self.close_reason)

    async def keep_leases(self) -> None:
        limits = self.state.chat_limits
        while True:
            await asyncio.sleep(limits.refresh_every)
            await limits.keep(self.principal.user_id, self.principal.session_id, self.id, self.replying)

    async def read_frames(self) -> None:
        idle = self.state.settings.ws_idle_seconds
        try:
            while True:
                try:
                    async with asyncio.timeout(idle):
                        message = await self.ws.receive()
                except TimeoutError:
                    if self.replying:
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
        finally:
            self.ended.set()

    async def take(self, message: MutableMapping[str, Any]) -> bool:
        """Answer the frame or refuse it; False when refused."""
        if message.get("text") is None:
            await self.send(ErrorFrame(code="invalid_frame", detail="binary frames are not accepted; send JSON text"))
            return False
        frame = parse_client_frame(message["text"], self.state.settings.max_message_chars)
        if isinstance(frame, ErrorFrame):
            await self.send(frame)
            return False
        if not await self.admit():
            return False
        try:
            # Logouts are broadcast, but a broadcast can be missed (Redis down): check again.
            await authenticate(self.ws, query_token(self.ws))
        except Unauthorized as exc:
            await self.state.chat_limits.end_reply(self.principal.session_id, self.id)
            self.request_close(CLOSE_UNAUTHORIZED, exc.detail)
            return False
        self.reply = asyncio.create_task(self.answer(frame))
        return True

    async def admit(self) -> bool:
        """Within the rate limit and no reply in flight for this session: the reply lease is taken."""
        limits = self.state.chat_limits
        now = time.monotonic()
        if now < self._refused_until:  # known from the last refusal; no need to ask Redis
            await self.refuse_rate_limited(self._refused_until - now)
            return False
        decision = await limits.take_message(self.principal.user_id)
        if not decision.allowed:
            self._refused_until = now + decision.retry_after
            await self.refuse_rate_limited(decision.retry_after)
            return False
        if self.replying or not await limits.start_reply(self.principal.session_id, self.id):
            await self.send(
                RetryLaterFrame(
                    code="busy", detail="a reply for this session is still being written; send again after it is done"
                )
            )
            return False
        return True

    async def refuse_rate_limited(self, retry_after: float) -> None:
        per_minute = self.state.settings.chat_messages_per_minute
        await self.send(
            RetryLaterFrame(
                code="rate_limited",
                detail=f"more than {per_minute} messages a minute; this one was not stored",
                retry_after=max(1, math.ceil(retry_after)),
            )
        )

    async def answer(self, frame: MessageFrame) -> None:
        state, principal = self.state, self.principal
        attribute_llm_calls(principal.user_id)  # this task's LLM calls: recorded and budgeted for this user
        try:
            try:
                # Before the message is stored: a refused message is not kept half-answered.
                await check_daily_budget(state.db, state.settings, principal.user_id)
            except LLMBudgetExhausted as exc:
                await self.send(budget_frame(exc))
                return
            await store_message(state.db, principal.user_id, principal.session_id, "user", frame.content)
            history = await recent_session_messages(state.db, principal.session_id, state.settings.chat_history_messages)
            memory = await recall(state.db, principal.user_id, state.settings, cache=state.arq)  # one GET when cached
            parts: list[str] = []
            try:
                # aclosing: a cancelled reply closes the LLM stream now, not when collected.
                async with contextlib.aclosing(state.llm.stream_reply(history, memory)) as stream:
                    async for text in stream:
                        parts.append(text)
                        await self.send(ChunkFrame(text=text))
            except LLMBudgetExhausted as exc:  # spent by another socket meanwhile
                await self.send(budget_frame(exc))
                return
            except LLMError as exc:
                log.warning("chat reply failed for session %s: %s", principal.session_id, exc)
                await self.send(ErrorFrame(code="llm_unavailable", detail="the coach could not answer; try again"))
                return
            reply = await store_message(state.db, principal.user_id, principal.session_id, "assistant", "".join(parts))
            await self.send(DoneFrame(message_id=reply.id, provider=state.llm.name))
        except ClientGone:
            return
        except Exception:
            # The reply is lost (MongoDB failed, say); end the socket as a crash would, but say so.
            log.exception("chat reply crashed for session %s", principal.session_id)
            self.request_close(CLOSE_INTERNAL_ERROR, "internal error")
        finally:
            # Shielded: this task may be cancelled while it cleans up (it asked for the close
            # itself above, or the client left), and the session must not stay `busy`.
            await asyncio.shield(state.chat_limits.end_reply(principal.session_id, self.id))


def budget_frame(exc: LLMBudgetExhausted) -> BudgetExhaustedFrame:
    return BudgetExhaustedFrame(
        detail="today's LLM token budget is spent; this message was not answered", resets_at=exc.resets_at
    )


async def chat_socket(ws: WebSocket) -> None:
    await ws.accept()
    state = ws.app.state
    token = query_token(ws)
    try:
        principal = token_principal(ws, token)
    except Unauthorized as exc:
        await ws.close(code=CLOSE_UNAUTHORIZED, reason=exc.detail)
        return
    conn = ChatConnection(ws, principal)
    # Registered before the session is checked, so a logout in between is not missed.
    state.sockets.add(principal.session_id, conn)
    WEBSOCKETS_OPEN.inc()
    try:
        try:
            await authenticate(ws, token)
        except Unauthorized as exc:
            await ws.close(code=CLOSE_UNAUTHORIZED, reason=exc.detail)
            return
        if not await state.chat_limits.open_socket(principal.user_id, conn.id):
            limit = state.settings.max_sockets_per_user
            await ws.close(code=CLOSE_TOO_MANY_SOCKETS, reason=f"at most {limit} open chat sockets per user")
            return
        try:
            await conn.run()
        finally:
            await state.chat_limits.close_socket(principal.user_id, conn.id)
            # Whatever ended the socket (client gone, logout, idle, server error), the
            # session's words so far go to the worker.
            try:
                await enqueue_extraction(state, principal.user_id, principal.session_id)
            except Exception:
                log.exception("could not enqueue extraction for session %s", principal.session_id)
    finally:
        state.sockets.remove(principal.session_id, conn)
        WEBSOCKETS_OPEN.dec()
