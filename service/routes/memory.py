"""What the caller can read back: their own messages and their stored memory."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.auth import require_principal
from service.errors import parse_query
from service.schemas import Memory, MessageList, MessagesQuery
from shared import contexts, summaries
from shared.messages import recent_user_messages


async def list_messages(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    query = parse_query(request.query_params, MessagesQuery)
    messages = await recent_user_messages(request.app.state.db, principal.user_id, query.limit)
    return JSONResponse(MessageList(messages=messages).model_dump(mode="json"))


async def list_memory(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    db, rate, now = request.app.state.db, request.app.state.settings.memory_decay_rate, datetime.now(UTC)
    memory = Memory(
        contexts=await contexts.context_views(db, principal.user_id, now, rate),
        summaries=await summaries.summary_views(db, principal.user_id, now, rate),
    )
    return JSONResponse(memory.model_dump(mode="json"))
