"""What the caller can read back: their own messages and their stored memory."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.auth import require_principal
from service.errors import parse_query
from service.schemas import MessagesQuery
from shared.messages import recent_user_messages
from shared.mongo import SESSION_CONTEXTS


async def list_messages(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    query = parse_query(request.query_params, MessagesQuery)
    messages = await recent_user_messages(request.app.state.db, principal.user_id, query.limit)
    return JSONResponse({"messages": [m.model_dump(mode="json") for m in messages]})


def _context_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(doc["_id"]),
        "session_id": doc["session_id"],
        "points": doc.get("context_points", []),
        "strength": doc.get("strength"),
        "model": doc.get("model"),
        "message_count": doc.get("covered", {}).get("message_count"),
        "summary_id": doc.get("summary_id"),
        "created_at": doc["created_at"].isoformat(),
        "updated_at": doc["updated_at"].isoformat(),
    }


async def list_memory(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    cursor = request.app.state.db[SESSION_CONTEXTS].find({"user_id": principal.user_id}).sort("updated_at", -1)
    contexts = [_context_view(doc) for doc in await cursor.to_list(length=None)]
    return JSONResponse({"contexts": contexts})
