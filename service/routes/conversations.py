"""`/api/v1/conversations`: a user's conversations (shared/store/conversations.py).

- `POST` `{title?}` → 201, the new conversation (it becomes the newest). Takes `Idempotency-Key`.
- `GET` → the unarchived ones, latest activity first; `limit` (1-100, 20) and `before` (the
  `next_before` of the previous page) page through them.
- `PATCH /{id}` `{title}` → 200, renamed. `DELETE /{id}` → 200, archived: gone from the list,
  its messages kept (and exported); sending to it is refused (409).

Another user's conversation, like one that never existed, is 404.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.api_docs import IDEMPOTENCY_KEY, documented, error, ok
from service.conversation_choice import NOT_YOURS
from service.errors import ApiError, parse_body, parse_query
from service.idempotency import idempotent
from service.principal import require_principal
from service.resources import resources_of
from service.routes.reply_schemas import VISIBLE_PATTERN, is_blank
from shared.store.conversations import (
    Conversation,
    archive_conversation,
    create_conversation,
    list_conversations,
    rename_conversation,
)

DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?")
# A title is blank as a message is (service/reply_schemas.py): nothing a reader sees.
TITLE_SCHEMA: JsonDict = {"pattern": VISIBLE_PATTERN, "maxLength": 200}


def _visible(value: str | None) -> str | None:
    if value is not None and is_blank(value):
        raise ValueError("is empty")
    return value


class NewConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        None, min_length=1, max_length=200, json_schema_extra=TITLE_SCHEMA, description="unset: New conversation"
    )
    _title_visible = field_validator("title")(_visible)


class ConversationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, json_schema_extra=TITLE_SCHEMA, description="some visible text")
    _title_visible = field_validator("title")(_visible)


class ConversationsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(20, ge=1, le=100)
    before: datetime | None = Field(None, description="next_before of the previous page")

    @field_validator("before", mode="before")
    @classmethod
    def _a_date_time(cls, value: object) -> object:
        # pydantic would take "0.5" as a Unix time; the document promises an RFC 3339 date-time.
        if isinstance(value, str) and not DATE_TIME.fullmatch(value):
            raise ValueError("must be a date-time like 2026-01-31T12:00:00Z (the next_before of a page)")
        return value


class ConversationList(BaseModel):
    conversations: list[Conversation]
    next_before: datetime | None = Field(description="pass as `before` for the next page; null on the last")


async def _create(request: Request) -> Response:
    principal = await require_principal(request)
    body = await parse_body(request, NewConversation)
    title = body.title.strip() if body.title else None
    made = await create_conversation(resources_of(request).db, principal.user_id, title)
    return JSONResponse(made.model_dump(mode="json"), status_code=201)


async def _list(request: Request) -> Response:
    principal = await require_principal(request)
    query = parse_query(request.query_params, ConversationsQuery)
    found = await list_conversations(resources_of(request).db, principal.user_id, query.limit + 1, query.before)
    page, more = found[: query.limit], len(found) > query.limit
    body = ConversationList(conversations=page, next_before=page[-1].updated_at if more else None)
    return JSONResponse(body.model_dump(mode="json"))


@documented(
    "GET",
    "the caller's conversations, latest activity first (archived ones left out)",
    {200: ok(ConversationList, "a page"), 422: error("bad limit or before")},
    query=ConversationsQuery,
)
@documented(
    "POST",
    "start a conversation; it becomes the newest (where messages go when they name none)",
    {
        201: ok(Conversation, "created"),
        409: error("the first request with this Idempotency-Key is still being handled"),
        422: error("a field is invalid, or the Idempotency-Key is malformed or was used with another body"),
        503: error("Redis, which keeps the Idempotency-Keys, cannot be reached; nothing was stored"),
    },
    body=NewConversation,
    headers=[IDEMPOTENCY_KEY],
)
async def conversations(request: Request) -> Response:
    if request.method == "POST":
        return await idempotent(request, "conversations", _create)
    return await _list(request)


async def _rename(request: Request) -> Response:
    principal = await require_principal(request)
    body = await parse_body(request, ConversationPatch)
    renamed = await rename_conversation(
        resources_of(request).db, request.path_params["conversation_id"], principal.user_id, body.title.strip()
    )
    if renamed is None:
        raise ApiError(404, NOT_YOURS)
    return JSONResponse(renamed.model_dump(mode="json"))


async def _archive(request: Request) -> Response:
    principal = await require_principal(request)
    archived = await archive_conversation(resources_of(request).db, request.path_params["conversation_id"], principal.user_id)
    if archived is None:
        raise ApiError(404, NOT_YOURS)
    return JSONResponse(archived.model_dump(mode="json"))


@documented(
    "PATCH",
    "rename the conversation",
    {200: ok(Conversation, "renamed"), 404: error("no conversation with that id (or another user's)")},
    body=ConversationPatch,
)
@documented(
    "DELETE",
    "archive the conversation: gone from the list, its messages kept; new messages to it are refused (409)",
    {200: ok(Conversation, "archived"), 404: error("no conversation with that id (or another user's)")},
)
async def conversation(request: Request) -> Response:
    return await (_rename(request) if request.method == "PATCH" else _archive(request))
