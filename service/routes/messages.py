"""`/api/v1/chat/messages`: GET the caller's own newest messages; POST one (service/routes/replies.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.errors import parse_query
from service.idempotency import idempotent
from service.principal import require_principal
from service.routes.replies import post_message
from service.schemas import MessageList, MessagesQuery
from shared.store.messages import recent_user_messages


async def list_messages(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    query = parse_query(request.query_params, MessagesQuery)
    messages = await recent_user_messages(request.app.state.db, principal.user_id, query.limit)
    return JSONResponse(MessageList(messages=messages).model_dump(mode="json"))


async def messages(request: Request) -> Response:
    # One route for both methods, so a 405 lists both in `Allow`.
    if request.method == "POST":
        return await idempotent(request, "chat.messages", post_message)
    return await list_messages(request)
