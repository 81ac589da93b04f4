"""`/api/v1/chat/messages`: GET the caller's own newest messages in a conversation
(`conversation_id`, default the newest); POST one (service/routes/replies.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.api_docs import IDEMPOTENCY_KEY, documented, error, ok
from service.conversation_choice import conversation_to_read
from service.errors import parse_query
from service.idempotency import idempotent
from service.principal import require_principal
from service.resources import resources_of
from service.routes.replies import post_message
from service.routes.reply_schemas import NewMessage, ReplyAccepted
from shared.models import ChatMessage
from shared.store.conversations import is_oldest
from shared.store.messages import recent_conversation_messages, recent_user_messages


class MessagesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt parameter is an error, not ignored

    limit: int = Field(50, ge=1, le=200)
    conversation_id: str | None = Field(None, max_length=64, description="unset: the newest conversation")


class MessageList(BaseModel):
    conversation_id: str | None = Field(description="the conversation shown; null before the first one")
    messages: list[ChatMessage]


async def list_messages(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    query = parse_query(request.query_params, MessagesQuery)
    db = resources_of(request).db
    conversation = await conversation_to_read(db, principal.user_id, query.conversation_id)
    if conversation is None:  # no conversation yet: whatever was said before conversations existed
        messages = await recent_user_messages(db, principal.user_id, query.limit)
    else:
        oldest = await is_oldest(db, principal.user_id, conversation.id)
        messages = await recent_conversation_messages(db, principal.user_id, conversation.id, query.limit, with_unassigned=oldest)
    body = MessageList(conversation_id=conversation.id if conversation else None, messages=messages)
    return JSONResponse(body.model_dump(mode="json"))


@documented(
    "GET",
    "the caller's newest messages in a conversation (unset: the newest), oldest first",
    {
        200: ok(MessageList, "messages"),
        404: error("no conversation with that id (or another user's)"),
        422: error("bad limit or conversation_id"),
    },
    query=MessagesQuery,
)
@documented(
    "POST",
    "store a message in the token's session and queue its reply; follow it at `stream_url`",
    {
        202: ok(ReplyAccepted, "stored and queued"),
        404: error("no conversation with that id (or another user's)"),
        409: error(
            "a reply for this session is still being written (errors: busy), or the conversation is archived; "
            "or its Idempotency-Key is in use",
            retry_after=True,
        ),
        429: error("over CHAT_MESSAGES_PER_MINUTE (rate_limited) or the daily token budget (budget_exhausted)", retry_after=True),
        503: error(
            "the queue cannot be reached; nothing was stored (unavailable); or Redis, which keeps the keys, is away",
            retry_after=True,
        ),
    },
    body=NewMessage,
    headers=[IDEMPOTENCY_KEY],
)
async def messages(request: Request) -> Response:
    # One route for both methods, so a 405 lists both in `Allow`.
    if request.method == "POST":
        return await idempotent(request, "chat.messages", post_message)
    return await list_messages(request)
