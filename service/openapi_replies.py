"""OpenAPI paths of the chat replies (service/routes/replies.py), merged into service/openapi.py's document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service.reply_schemas import ActiveStreams, NewMessage, ReplyAccepted
from shared.store.replies import Reply

MODELS: list[type[BaseModel]] = [NewMessage, ReplyAccepted, Reply, ActiveStreams]

EVENT_STREAM = {
    "description": (
        "Server-Sent Events: `chunk` ({text}) events, then one `done` ({message_id, usage, latency_ms, "
        "first_chunk_ms, model}) or `error` ({code, detail}); each with an `id:`, and a keep-alive comment "
        "every STREAM_KEEPALIVE_SECONDS"
    ),
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


def paths(operation: Any, json_body: Any, error: Any, auth: dict[str, Any], bad_body: dict[str, Any]) -> dict[str, Any]:
    reply_id = [{"name": "reply_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    retry_after = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
    not_yours = {"404": error("no reply with that id (or another user's)")}
    return {
        "/api/v1/chat/messages": {
            "post": operation(
                "store a message in the token's session and queue its reply; follow it at `stream_url`",
                {
                    "202": json_body(ReplyAccepted, "stored and queued"),
                    "429": {
                        **error("over CHAT_MESSAGES_PER_MINUTE (rate_limited) or the daily token budget (budget_exhausted)"),
                        "headers": retry_after,
                    },
                    "503": {**error("the queue cannot be reached; nothing was stored (unavailable)"), "headers": retry_after},
                    **bad_body,
                    "404": error("no conversation with that id (or another user's)"),
                    "409": {
                        **error(
                            "a reply for this session is still being written (errors: busy), or the conversation is archived"
                        ),
                        "headers": retry_after,
                    },
                    **auth,
                },
                body=NewMessage,
                secured=True,
            )
        },
        "/api/v1/chat/replies/{reply_id}/stream": {
            "get": operation(
                "the reply's events as they are written; `Last-Event-ID` resumes after an event",
                {
                    "200": EVENT_STREAM,
                    "400": error("Last-Event-ID is not an event id"),
                    "410": error("the reply ended more than STREAM_TTL_SECONDS ago; its message is in /chat/messages"),
                    **not_yours,
                    **auth,
                },
                secured=True,
                parameters=[
                    *reply_id,
                    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
                ],
            )
        },
        "/api/v1/chat/replies/{reply_id}": {
            "get": operation(
                "the reply: status, text so far, usage and timings once done",
                {"200": json_body(Reply, "the reply"), **not_yours, **auth},
                secured=True,
                parameters=reply_id,
            ),
            "delete": operation(
                "cancel the reply: the worker stops the LLM stream; the stream ends with error `cancelled`",
                {"200": json_body(Reply, "cancelled"), "409": error("the reply already ended"), **not_yours, **auth},
                secured=True,
                parameters=reply_id,
            ),
        },
        "/api/v1/chat/active-streams": {
            "get": operation(
                "the caller's replies still queued or being written",
                {"200": json_body(ActiveStreams, "active replies"), **auth},
                secured=True,
            )
        },
    }
