"""What the caller can read back: their own messages and their stored memory."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse

from service.auth import require_principal
from service.errors import parse_query
from service.recall import context_view, summary_view
from service.schemas import MemoryGraph, MessagesQuery, ReflectionQueued
from shared import communities, entities, reflections, relations
from shared.job_owners import record_job_owner
from shared.jobs import GENERATE_REFLECTION
from shared.messages import recent_user_messages
from shared.mongo import SESSION_CONTEXTS, SUMMARIES
from shared.outbox import enqueue_or_store


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
    stored_reflections = await reflections.user_reflections(db, principal.user_id)
    return JSONResponse(
        {
            "contexts": [context_view(doc, now, rate) for doc in contexts],
            "summaries": [summary_view(doc, now, rate) for doc in summaries],
            "reflections": [reflections.reflection_view(doc, now, rate).model_dump(mode="json") for doc in stored_reflections],
        }
    )


async def request_reflection(request: Request) -> JSONResponse:
    """Queue a reflection for the caller now (one new context is enough) and answer its job id.
    The same id while nothing changed, so repeated clicks make one reflection."""
    principal = await require_principal(request)
    state = request.app.state
    job_id = await reflections.next_reflection_job_id(state.db, principal.user_id)
    await enqueue_or_store(state.db, state.arq, state.settings.redis_timeout_seconds, GENERATE_REFLECTION, principal.user_id, True, job_id=job_id)
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
