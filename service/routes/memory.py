"""`GET /api/v1/memory`: the caller's stored memory (contexts and summaries)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.principal import require_principal
from service.schemas import Memory
from shared import contexts, summaries


async def list_memory(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    db, rate, now = request.app.state.db, request.app.state.settings.memory_decay_rate, datetime.now(UTC)
    memory = Memory(
        contexts=await contexts.context_views(db, principal.user_id, now, rate),
        summaries=await summaries.summary_views(db, principal.user_id, now, rate),
    )
    return JSONResponse(memory.model_dump(mode="json"))
