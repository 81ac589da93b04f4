"""What the caller can read back: their own messages and their stored memory."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.auth import require_principal
from service.errors import parse_query
from service.recall import context_view, summary_view
from service.schemas import MessagesQuery
from shared.messages import recent_user_messages
from shared.mongo import SESSION_CONTEXTS, SUMMARIES


async def list_messages(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    query = parse_query(request.query_params, MessagesQuery)
    messages = await recent_user_messages(request.app.state.db, principal.user_id, query.limit)
    return JSONResponse({"messages": [m.model_dump(mode="json") for m in messages]})


async def list_memory(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    db, rate, now = request.app.state.db, request.app.state.settings.memory_decay_rate, datetime.now(UTC)
    contexts = await db[SESSION_CONTEXTS].find({"user_id": principal.user_id}).sort("updated_at", -1).to_list(length=None)
    summaries = await db[SUMMARIES].find({"user_id": principal.user_id, "status": "done"}).sort("created_at", -1).to_list(length=None)
    return JSONResponse(
        {
            "contexts": [context_view(doc, now, rate) for doc in contexts],
            "summaries": [summary_view(doc, now, rate) for doc in summaries],
        }
    )
