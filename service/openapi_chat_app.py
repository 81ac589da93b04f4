"""OpenAPI paths of the chat app's conversations, retries, resends and events (issue 24),
merged into service/openapi.py's document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service.routes.conversations import ConversationList, ConversationPatch, NewConversation
from shared.store.conversations import Conversation

MODELS: list[type[BaseModel]] = [Conversation, ConversationList, NewConversation, ConversationPatch]

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "sent again with the same key and body within IDEMPOTENCY_TTL_SECONDS (24 h), the request gets the first "
        "2xx answer again (header Idempotent-Replayed: true) and nothing is stored or enqueued twice"
    ),
    "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"},
}

USER_EVENTS = {
    "description": (
        "Server-Sent Events, each with an `id:`: `ready` (a fresh connection), `reply` ({conversation_id, reply_id, "
        "message_id, stream_url[, retry_of]}: replies still being written, then retries), `message` ({conversation_id, "
        "message_id, content, reply_id, stream_url}: sent from any of the user's tabs or devices), `noted` ({count, "
        "source}: an extraction or a reflection finished); a keep-alive comment every STREAM_KEEPALIVE_SECONDS"
    ),
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


def paths(operation: Any, json_body: Any, error: Any, auth: dict[str, Any], bad_body: dict[str, Any]) -> dict[str, Any]:
    conversation_id = [{"name": "conversation_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    not_yours = {"404": error("no conversation with that id (or another user's)")}
    key_refused = {
        "409": error("the first request with this Idempotency-Key is still being handled"),
        "422": error("a field is invalid, or the Idempotency-Key is malformed or was used with another body"),
        "503": error("Redis, which keeps the Idempotency-Keys, cannot be reached; nothing was stored"),
    }
    from service.reply_schemas import ReplyAccepted

    retry_after = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
    return {
        "/api/v1/conversations": {
            "post": operation(
                "start a conversation; it becomes the newest (where messages go when they name none)",
                {"201": json_body(Conversation, "created"), **bad_body, **key_refused, **auth},
                body=NewConversation,
                secured=True,
                parameters=[IDEMPOTENCY_KEY],
            ),
            "get": operation(
                "the caller's conversations, latest activity first (archived ones left out)",
                {"200": json_body(ConversationList, "a page"), "422": error("bad limit or before"), **auth},
                secured=True,
                parameters=[
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                    {"name": "before", "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"}},
                ],
            ),
        },
        "/api/v1/conversations/{conversation_id}": {
            "patch": operation(
                "rename the conversation",
                {"200": json_body(Conversation, "renamed"), **not_yours, **bad_body, **auth},
                body=ConversationPatch,
                secured=True,
                parameters=conversation_id,
            ),
            "delete": operation(
                "archive the conversation: gone from the list, its messages kept; new messages to it are refused (409)",
                {"200": json_body(Conversation, "archived"), **not_yours, **auth},
                secured=True,
                parameters=conversation_id,
            ),
        },
        "/api/v1/chat/replies/{reply_id}/retry": {
            "post": operation(
                "a new reply to the message a failed or cancelled reply answered (once per reply)",
                {
                    "202": json_body(ReplyAccepted, "queued; follow it at `stream_url`"),
                    "404": error("no reply with that id (or another user's)"),
                    "409": error("the reply is still being written, is done, was retried already, or its key is in use"),
                    "422": error("the Idempotency-Key is malformed or was used with another request"),
                    "429": {**error("over CHAT_MESSAGES_PER_MINUTE or the daily token budget"), "headers": retry_after},
                    "503": {**error("the queue or Redis cannot be reached; nothing was created"), "headers": retry_after},
                    **auth,
                },
                secured=True,
                parameters=[
                    {"name": "reply_id", "in": "path", "required": True, "schema": {"type": "string"}},
                    IDEMPOTENCY_KEY,
                ],
            )
        },
        "/api/v1/events": {
            "get": operation(
                "the caller's own events, from every tab and device; `Last-Event-ID` resumes after an event",
                {
                    "200": USER_EVENTS,
                    "400": error("Last-Event-ID (or after) is not an event id"),
                    "503": error("the event stream cannot be read right now"),
                    **auth,
                },
                secured=True,
                parameters=[
                    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
                    {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
            )
        },
        "/favicon.ico": {
            "get": operation(
                "the app's icon (SVG)",
                {"200": {"description": "the icon", "content": {"image/svg+xml": {"schema": {"type": "string"}}}}},
            )
        },
    }
