"""`WS /ws/chat?token=...`: chat with the coach; closing the socket hands the session to the worker.

Browsers cannot set headers on a WebSocket, so the token rides in the query string. A bad
token gets close code 4401 (the 4xxx range is the application's; 401 echoes HTTP).
"""

from __future__ import annotations

import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from service.auth import Principal, Unauthorized, authenticate
from service.enqueue import enqueue_extraction
from service.frames import ChunkFrame, DoneFrame, ErrorFrame, MessageFrame, parse_client_frame
from service.recall import recall
from shared.llm import LLMError
from shared.messages import recent_session_messages, store_message

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401


async def send(ws: WebSocket, frame: ChunkFrame | DoneFrame | ErrorFrame) -> None:
    await ws.send_text(frame.model_dump_json())


async def answer(ws: WebSocket, principal: Principal, frame: MessageFrame) -> None:
    state = ws.app.state
    await store_message(state.db, principal.user_id, principal.session_id, "user", frame.content)
    history = await recent_session_messages(state.db, principal.session_id, state.settings.chat_history_messages)
    memory = await recall(state.db, principal.user_id, state.settings, cache=state.arq)  # one GET when cached
    parts: list[str] = []
    try:
        async for text in state.llm.stream_reply(history, memory):
            parts.append(text)
            await send(ws, ChunkFrame(text=text))
    except LLMError as exc:
        log.warning("chat reply failed for session %s: %s", principal.session_id, exc)
        await send(ws, ErrorFrame(code="llm_unavailable", detail="the coach could not answer; try again"))
        return
    reply = await store_message(state.db, principal.user_id, principal.session_id, "assistant", "".join(parts))
    await send(ws, DoneFrame(message_id=reply.id, provider=state.llm.name))


async def chat_socket(ws: WebSocket) -> None:
    await ws.accept()
    try:
        principal = await authenticate(ws, ws.query_params.get("token"))
    except Unauthorized as exc:
        await ws.close(code=CLOSE_UNAUTHORIZED, reason=exc.detail)
        return
    try:
        await converse(ws, principal)
    finally:
        # Whatever ended the socket (client gone, logout, server error), the session's
        # words so far go to the worker.
        try:
            await enqueue_extraction(ws.app.state, principal.user_id, principal.session_id)
        except Exception:
            log.exception("could not enqueue extraction for session %s", principal.session_id)


async def converse(ws: WebSocket, principal: Principal) -> None:
    max_chars = ws.app.state.settings.max_message_chars
    while True:
        try:
            message = await ws.receive()
        except WebSocketDisconnect:
            return
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is None:
            await send(ws, ErrorFrame(code="invalid_frame", detail="binary frames are not accepted; send JSON text"))
            continue
        frame = parse_client_frame(message["text"], max_chars)
        if isinstance(frame, ErrorFrame):
            await send(ws, frame)
            continue
        try:
            # A logout over HTTP while the socket is open ends the chat too.
            await authenticate(ws, ws.query_params.get("token"))
        except Unauthorized as exc:
            await ws.close(code=CLOSE_UNAUTHORIZED, reason=exc.detail)
            return
        await answer(ws, principal, frame)
