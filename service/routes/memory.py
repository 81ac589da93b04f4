"""The caller's stored memory: `GET /api/v1/memory` (contexts, summaries, reflections),
`POST /api/v1/memory/reflections`, `GET /api/v1/memory/graph` and `GET /api/v1/memory/search`."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse

from service.api_docs import documented, error, ok
from service.errors import ApiError, parse_body, parse_query
from service.principal import require_principal
from service.resources import resources_of
from shared.memory.ranking import Reasons
from shared.memory.recall import search
from shared.memory.recall_cache import drop_and_rebuild
from shared.queue.jobs import enqueue_reflection
from shared.store import communities, context_views, entities, reflections, relations, summaries
from shared.store.communities import CommunityView
from shared.store.context_views import ContextView
from shared.store.entities import EntityView
from shared.store.job_owners import record_job_owner
from shared.store.reflections import ReflectionView
from shared.store.relations import RelationView
from shared.store.summaries import SummaryView


class Memory(BaseModel):
    contexts: list[ContextView]
    summaries: list[SummaryView]
    reflections: list[ReflectionView]


class ReflectionQueued(BaseModel):
    job_id: str


class MemoryGraph(BaseModel):
    nodes: list[EntityView]
    edges: list[RelationView]
    communities: list[CommunityView]


@documented("GET", "the caller's contexts, summaries and reflections", {200: ok(Memory, "memory")})
async def list_memory(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    db, rate, now = resources_of(request).db, resources_of(request).settings.memory_decay_rate, datetime.now(UTC)
    memory = Memory(
        contexts=await context_views.context_views(db, principal.user_id, now, rate),
        summaries=await summaries.summary_views(db, principal.user_id, now, rate),
        reflections=[  # one whose every insight was withdrawn (shared/memory/forget.py) has nothing to show
            reflections.reflection_view(doc, now, rate)
            for doc in await reflections.user_reflections(db, principal.user_id)
            if doc["insights"]
        ],
    )
    return JSONResponse(memory.model_dump(mode="json"))


@documented(
    "POST",
    "queue a reflection on the caller's recent sessions now; answers its job id",
    {202: ok(ReflectionQueued, "queued")},
)
async def request_reflection(request: Request) -> JSONResponse:
    """Queue a reflection for the caller now (one new context is enough) and answer its job id.
    The same id while nothing changed, so repeated clicks make one reflection."""
    principal = await require_principal(request)
    state = resources_of(request)
    job_id = await reflections.next_reflection_job_id(state.db, principal.user_id)
    await enqueue_reflection(state.db, state.arq, state.settings.redis_timeout_seconds, principal.user_id, job_id, force=True)
    await record_job_owner(state.db, job_id, principal.user_id)  # so GET /api/v1/jobs/{id} answers the caller
    return JSONResponse(ReflectionQueued(job_id=job_id).model_dump(), status_code=202)


@documented("GET", "the caller's entity graph: entities, relations and their communities", {200: ok(MemoryGraph, "graph")})
async def memory_graph(request: Request) -> JSONResponse:
    """The caller's entities, relations and communities; every query is filtered by the caller."""
    principal = await require_principal(request)
    db = resources_of(request).db
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


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        min_length=1,
        max_length=500,
        description="what to look for, in the user's words",
        json_schema_extra={"pattern": r"\S"},  # not blank: what the validator below refuses
    )
    limit: int = Field(10, ge=1, le=50, description="most results")

    @field_validator("q")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class SearchResult(BaseModel):
    id: str
    kind: str
    content: str
    score: float
    reasons: Reasons
    session_id: str | None
    said_at: datetime | None


class SearchResults(BaseModel):
    results: list[SearchResult]


@documented(
    "GET",
    "the caller's memories matching q, ranked as the coach's recall ranks them, with the reasons",
    {200: ok(SearchResults, "results"), 422: error("q blank or over 500 characters, or limit outside 1-50")},
    query=SearchQuery,
)
async def search_memory(request: Request) -> JSONResponse:
    """`GET /api/v1/memory/search?q=&limit=`: the caller's memories ranked as the coach's recall ranks them."""
    principal = await require_principal(request)
    query = parse_query(request.query_params, SearchQuery)
    state = resources_of(request)
    ranked = await search(state.db, state.arq, principal.user_id, query.q, query.limit, state.settings)
    results = [
        SearchResult(
            id=r.doc.id.removeprefix("m:"),  # a memory's id as /api/v1/memory/points takes it
            kind=r.doc.kind,
            content=r.doc.content,
            score=r.score,
            reasons=r.reasons,
            session_id=r.doc.session_id,
            said_at=r.doc.said_at,
        )
        for r in ranked
    ]
    return JSONResponse(SearchResults(results=results).model_dump(mode="json"))


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: str = Field(min_length=1, max_length=100, description="the name to take out of the entity")


class SplitDone(BaseModel):
    entity_id: str  # the new entity the alias became


@documented(
    "POST",
    "undo a merge: the alias becomes an entity of its own",
    {201: ok(SplitDone, "split"), 404: error("no such entity of yours with that alias"), 422: error("bad alias")},
    body=SplitRequest,
)
async def split_entity(request: Request) -> JSONResponse:
    """`POST /api/v1/memory/graph/entities/{id}/split {alias}`: undo a merge the coach made."""
    principal = await require_principal(request)
    body = await parse_body(request, SplitRequest)
    state = resources_of(request)
    new_id = await entities.split_alias(
        state.db, principal.user_id, request.path_params["entity_id"], body.alias, datetime.now(UTC)
    )
    if new_id is None:
        raise ApiError(404, "no such entity of yours with that alias")
    await drop_and_rebuild(state.db, state.arq, state.settings.redis_timeout_seconds, principal.user_id)
    return JSONResponse(SplitDone(entity_id=new_id).model_dump(), status_code=201)
