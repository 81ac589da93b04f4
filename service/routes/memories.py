"""The user's control over what the coach remembers (and the right to rectification):

    POST   /api/v1/memory/points                {kind, content, importance?} -> 201 {id}
    GET    /api/v1/memory/points?status=&limit=&cursor=                     -> a page
    PATCH  /api/v1/memory/points/{id}           {content?, kind?, importance?} -> 200, a new version
    DELETE /api/v1/memory/points/{id}                                       -> 204, retracted
    GET    /api/v1/memory/points/{id}/history                               -> every version

Owner only: another user's id is 404, as is an id that names nothing. Every change drops
the user's recall index at once, so the next reply already ranks the changed memory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.api_docs import documented, empty, error, ok
from service.errors import ApiError, parse_body, parse_query
from service.principal import require_principal
from service.resources import resources_of
from shared.memory import forget
from shared.memory.dates import resolve
from shared.memory.recall_cache import drop_and_rebuild
from shared.models import ContextKind
from shared.store import memories, memory_views
from shared.store.memories import Status, Version
from shared.store.memory_views import MemoryView


class NewMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ContextKind
    content: str = Field(min_length=1, max_length=1_000, pattern=r"\S")
    importance: float = Field(0.7, ge=0.0, le=1.0, strict=True)


class MemoryChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ContextKind | None = None
    content: str | None = Field(None, min_length=1, max_length=1_000, pattern=r"\S")
    importance: float | None = Field(None, ge=0.0, le=1.0, strict=True)

    @model_validator(mode="after")
    def changes_something(self) -> MemoryChange:
        if self.kind is None and self.content is None and self.importance is None:
            raise ValueError("give at least one of content, kind, importance")
        return self


class MemoryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status = "active"
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, pattern=r"^[0-9a-f]{24}$")


class MemoryCreated(BaseModel):
    id: str


class MemoryPage(BaseModel):
    memories: list[MemoryView]
    next_cursor: str | None


class MemoryHistory(BaseModel):
    id: str
    status: Status
    versions: list[Version]


async def _changed(request: Request, user_id: str) -> None:
    state = resources_of(request)
    await drop_and_rebuild(state.db, state.arq, state.settings.redis_timeout_seconds, user_id)


async def create_memory(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    body = await parse_body(request, NewMemory)
    now = datetime.now(UTC)
    content = body.content.strip()
    memory_id = await memories.add(
        resources_of(request).db,
        principal.user_id,
        body.kind,
        content,
        body.importance,
        now,
        by="user",
        valid_from=resolve(content, now.date()),  # "my race is next week", as of now
    )
    await _changed(request, principal.user_id)
    return JSONResponse(MemoryCreated(id=memory_id).model_dump(), status_code=201)


async def list_memories(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    query = parse_query(request.query_params, MemoryQuery)
    state = resources_of(request)
    docs, cursor = await memory_views.page(state.db, principal.user_id, query.status, query.limit, query.cursor)
    now, rate = datetime.now(UTC), state.settings.memory_decay_rate
    return JSONResponse(
        MemoryPage(memories=[memory_views.view(d, now, rate) for d in docs], next_cursor=cursor).model_dump(mode="json")
    )


async def _owned(request: Request, user_id: str) -> dict[str, Any]:
    doc = await memories.find(resources_of(request).db, user_id, request.path_params["memory_id"])
    if doc is None:
        raise ApiError(404, "no such memory")
    return doc


async def change_memory(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    doc = await _owned(request, principal.user_id)
    body = await parse_body(request, MemoryChange)
    if doc["status"] != "active":
        raise ApiError(409, f"this memory is {doc['status']}: only an active memory can be changed")
    state, now = resources_of(request), datetime.now(UTC)
    content = body.content.strip() if body.content else None
    await memories.revise(
        state.db,
        principal.user_id,
        str(doc["_id"]),
        now,
        by="user",
        content=content,
        kind=body.kind,
        importance=body.importance,
        valid_from=resolve(content, now.date()) if content else None,  # "next week", as of the edit
    )
    await forget.reword_memory(state.db, principal.user_id, doc, body.kind or doc["kind"], content or doc["content"])
    await _changed(request, principal.user_id)
    changed = await memories.find(state.db, principal.user_id, str(doc["_id"]))
    assert changed is not None
    return JSONResponse(memory_views.view(changed, now, state.settings.memory_decay_rate).model_dump(mode="json"))


async def retract_memory(request: Request) -> Response:
    principal = await require_principal(request)
    doc = await _owned(request, principal.user_id)
    if doc["status"] == "retracted":
        return Response(status_code=204)  # already: deleting twice is deleting
    state = resources_of(request)
    await forget.retract_memory(state.db, state.arq, state.settings.redis_timeout_seconds, principal.user_id, str(doc["_id"]))
    return Response(status_code=204)


@documented(
    "GET",
    "every version of a memory, oldest first",
    {200: ok(MemoryHistory, "its history"), 404: error("no such memory of yours")},
)
async def memory_history(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    doc = await _owned(request, principal.user_id)
    history = MemoryHistory(
        id=str(doc["_id"]), status=doc["status"], versions=[Version.model_validate(v) for v in doc["versions"]]
    )
    return JSONResponse(history.model_dump(mode="json"))


@documented(
    "GET",
    "the caller's memories by status, newest first, a page at a time",
    {200: ok(MemoryPage, "a page"), 422: error("bad status, limit or cursor")},
    query=MemoryQuery,
)
@documented(
    "POST",
    "remember something the user states",
    {201: ok(MemoryCreated, "remembered"), 422: error("bad kind, content or importance")},
    body=NewMemory,
)
async def points(request: Request) -> Response:
    """One route per path, so a 405 names every method the path takes."""
    return await (create_memory(request) if request.method == "POST" else list_memories(request))


@documented(
    "PATCH",
    "correct a memory: a new version, with the old one kept in its history",
    {
        200: ok(MemoryView, "the memory as it is now"),
        404: error("no such memory of yours"),
        409: error("the memory is superseded or retracted"),
        422: error("nothing to change, or a bad field"),
    },
    body=MemoryChange,
)
@documented(
    "DELETE",
    "retract a memory: never in a prompt or a search again; its history stays",
    {204: empty("retracted"), 404: error("no such memory of yours")},
)
async def point(request: Request) -> Response:
    return await (change_memory(request) if request.method == "PATCH" else retract_memory(request))
