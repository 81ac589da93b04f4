"""The caller's stored memory: `GET /api/v1/memory` (contexts, summaries, reflections),
`POST /api/v1/memory/reflections` and `GET /api/v1/memory/graph`."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.principal import require_principal
from service.schemas import Memory, MemoryGraph, ReflectionQueued
from shared.queue.jobs import enqueue_reflection
from shared.store import communities, contexts, entities, reflections, relations, summaries
from shared.store.job_owners import record_job_owner


async def list_memory(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    db, rate, now = request.app.state.db, request.app.state.settings.memory_decay_rate, datetime.now(UTC)
    memory = Memory(
        contexts=await contexts.context_views(db, principal.user_id, now, rate),
        summaries=await summaries.summary_views(db, principal.user_id, now, rate),
        reflections=[
            reflections.reflection_view(doc, now, rate) for doc in await reflections.user_reflections(db, principal.user_id)
        ],
    )
    return JSONResponse(memory.model_dump(mode="json"))


async def request_reflection(request: Request) -> JSONResponse:
    """Queue a reflection for the caller now (one new context is enough) and answer its job id.
    The same id while nothing changed, so repeated clicks make one reflection."""
    principal = await require_principal(request)
    state = request.app.state
    job_id = await reflections.next_reflection_job_id(state.db, principal.user_id)
    await enqueue_reflection(state.db, state.arq, state.settings.redis_timeout_seconds, principal.user_id, job_id, force=True)
    await record_job_owner(state.db, job_id, principal.user_id)  # so GET /api/v1/jobs/{id} answers the caller
    return JSONResponse(ReflectionQueued(job_id=job_id).model_dump(), status_code=202)


async def memory_graph(request: Request) -> JSONResponse:
    """The caller's entities, relations and communities; every query is filtered by the caller."""
    principal = await require_principal(request)
    db = request.app.state.db
    nodes = await entities.user_entities(db, principal.user_id)
    edges = await relations.user_relations(db, principal.user_id)
    groups = await communities.user_communities(db, principal.user_id)
    member_of = {entity_id: g["index"] for g in groups for entity_id in g["entity_ids"]}
    known = {str(n["_id"]) for n in nodes}
    graph = MemoryGraph(
        nodes=[entities.entity_view(n, member_of.get(str(n["_id"]))) for n in nodes],
        edges=[relations.relation_view(e) for e in edges if str(e["source_id"]) in known and str(e["target_id"]) in known],
        communities=[communities.community_view(g) for g in groups],
    )
    return JSONResponse(graph.model_dump(mode="json"))
