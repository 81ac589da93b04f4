"""The OpenAPI 3.1 document, served at /openapi.json.

Bodies and responses come from the same pydantic models the handlers validate with, so
the document cannot drift from what the code accepts. The WebSocket is described in
docs/api.md; OpenAPI has no words for it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse

from service import openapi_account, openapi_chat_app, openapi_memories, openapi_operations, openapi_replies, schemas
from service.readiness import Readiness
from service.routes.memory import SearchResults, SplitDone, SplitRequest
from shared.store.llm_usage import AdminUsageReport, UsageReport

MODELS: list[type[BaseModel]] = [
    schemas.Credentials,
    schemas.ErrorBody,
    schemas.Registered,
    schemas.LoggedIn,
    schemas.LoggedOut,
    schemas.Me,
    schemas.SessionInfo,
    schemas.MessageList,
    schemas.Memory,
    schemas.ReflectionQueued,
    schemas.MemoryGraph,
    schemas.FailedJobs,
    schemas.Requeued,
    schemas.RequeuedAll,
    Readiness,
]


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(model)}}}


def error(description: str) -> dict[str, Any]:
    return json_body(schemas.ErrorBody, description)


BAD_BODY = {
    "400": error("body is not JSON, or refused JSON (nested too deep, a huge number, invalid Unicode)"),
    "408": error("body not received within HTTP_BODY_TIMEOUT_SECONDS"),
    "413": error("body over the size limit"),
    "422": error("a field is invalid"),
}
AUTH = {"401": error("missing, invalid, expired or revoked token")}
ADMIN = {**AUTH, "403": error("not an admin")}
SECURED: list[dict[str, list[str]]] = [{"bearer": []}]
THROTTLED = {
    **error("too many failed logins from this address or for this account"),
    "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}},
}

REGISTRATIONS_THROTTLED = {
    **error("too many registrations from this address (REGISTRATIONS_PER_HOUR_PER_ADDRESS)"),
    "headers": THROTTLED["headers"],
}


def operation(
    summary: str, responses: dict[str, Any], *, body: type[BaseModel] | None = None, secured: bool = False, **extra: Any
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, **extra}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    if secured:
        op["security"] = SECURED
    return op


PATHS: dict[str, Any] = {
    "/healthz": {
        "get": operation(
            "liveness", {"200": {"description": "up", "content": {"application/json": {"schema": {"type": "object"}}}}}
        )
    },
    "/readyz": {
        "get": operation(
            "readiness: MongoDB and Redis answer, and a worker's heartbeat is fresh",
            {"200": json_body(Readiness, "ready"), "503": json_body(Readiness, "a part is failing; `checks` names it")},
        )
    },
    "/api/v1/auth/register": {
        "post": operation(
            "create an account",
            {
                "201": json_body(schemas.Registered, "created"),
                "409": error("email already registered"),
                "429": REGISTRATIONS_THROTTLED,
                **BAD_BODY,
            },
            body=schemas.Credentials,
        )
    },
    "/api/v1/auth/login": {
        "post": operation(
            "open a session",
            {
                "200": json_body(schemas.LoggedIn, "logged in"),
                "401": error("wrong email or password"),
                "429": THROTTLED,
                **BAD_BODY,
            },
            body=schemas.Credentials,
        )
    },
    "/api/v1/auth/logout": {
        "post": operation(
            "close the session and queue its extraction",
            {"200": json_body(schemas.LoggedOut, "logged out"), **AUTH},
            secured=True,
        )
    },
    "/api/v1/auth/me": {"get": operation("the caller", {"200": json_body(schemas.Me, "the caller"), **AUTH}, secured=True)},
    "/api/v1/auth/session": {
        "get": operation(
            "is this token still good (authentication only)",
            {"200": json_body(schemas.SessionInfo, "valid"), **AUTH},
            secured=True,
        )
    },
    "/api/v1/chat/messages": {
        "get": operation(
            "the caller's newest messages in a conversation (unset: the newest), oldest first",
            {
                "200": json_body(schemas.MessageList, "messages"),
                "404": error("no conversation with that id (or another user's)"),
                "422": error("bad limit or conversation_id"),
                **AUTH,
            },
            secured=True,
            parameters=[
                {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                {"name": "conversation_id", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 64}},
            ],
        )
    },
    "/api/v1/memory": {
        "get": operation(
            "the caller's contexts, summaries and reflections", {"200": json_body(schemas.Memory, "memory"), **AUTH}, secured=True
        )
    },
    "/api/v1/memory/reflections": {
        "post": operation(
            "queue a reflection on the caller's recent sessions now; answers its job id",
            {"202": json_body(schemas.ReflectionQueued, "queued"), **AUTH},
            secured=True,
        )
    },
    "/api/v1/memory/graph": {
        "get": operation(
            "the caller's entity graph: entities, relations and their communities",
            {"200": json_body(schemas.MemoryGraph, "graph"), **AUTH},
            secured=True,
        )
    },
    "/api/v1/admin/failed-jobs": {
        "get": operation("dead letters", {"200": json_body(schemas.FailedJobs, "dead letters"), **ADMIN}, secured=True)
    },
    "/api/v1/admin/failed-jobs/requeue": {
        "post": operation("requeue every dead letter", {"200": json_body(schemas.RequeuedAll, "requeued"), **ADMIN}, secured=True)
    },
    "/api/v1/admin/failed-jobs/{dead_letter_id}/requeue": {
        "post": operation(
            "requeue one dead letter",
            {"200": json_body(schemas.Requeued, "requeued"), "404": error("no such open dead letter"), **ADMIN},
            secured=True,
            parameters=[{"name": "dead_letter_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        )
    },
}


DAYS = [{"name": "days", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 366}}]
PATHS["/api/v1/usage"] = {
    "get": operation(
        "the caller's LLM usage per UTC day and purpose (cost when LLM_PRICES is set)",
        {"200": json_body(UsageReport, "usage"), "422": error("bad days"), **AUTH},
        secured=True,
        parameters=DAYS,
    )
}
PATHS["/api/v1/admin/usage"] = {
    "get": operation(
        "LLM usage of every user: totals per user and per UTC day",
        {"200": json_body(AdminUsageReport, "usage"), "422": error("bad days"), **ADMIN},
        secured=True,
        parameters=DAYS,
    )
}
MODELS += [UsageReport, AdminUsageReport]
PATHS["/api/v1/memory/search"] = {
    "get": operation(
        "the caller's memories matching q, ranked as the coach's recall ranks them, with the reasons",
        {
            "200": json_body(SearchResults, "results"),
            "422": error("q blank or over 500 characters, or limit outside 1-50"),
            **AUTH,
        },
        secured=True,
        parameters=[
            {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 500}},
            {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 50}},
        ],
    )
}
MODELS += [SearchResults]
PATHS["/api/v1/memory/graph/entities/{entity_id}/split"] = {
    "post": operation(
        "undo a merge: the alias becomes an entity of its own",
        {
            "201": json_body(SplitDone, "split"),
            "404": error("no such entity of yours with that alias"),
            "422": error("bad alias"),
            **BAD_BODY,
            **AUTH,
        },
        body=SplitRequest,
        secured=True,
        parameters=[{"name": "entity_id", "in": "path", "required": True, "schema": {"type": "string"}}],
    )
}
MODELS += [SplitRequest, SplitDone]
PATHS.update(openapi_memories.paths(operation, json_body, error, AUTH, BAD_BODY))
MODELS += openapi_memories.MODELS

PATHS.update(openapi_operations.paths(operation, json_body, error, AUTH, ADMIN))
MODELS += openapi_operations.MODELS
PATHS.update(openapi_account.paths(operation, json_body, error, AUTH, BAD_BODY, THROTTLED, schemas))
MODELS += openapi_account.MODELS
# GET /chat/messages is above; POST (send a message, queue its reply) joins it here.
REPLY_PATHS = openapi_replies.paths(operation, json_body, error, AUTH, BAD_BODY)
PATHS["/api/v1/chat/messages"].update(REPLY_PATHS.pop("/api/v1/chat/messages"))
PATHS.update(REPLY_PATHS)
MODELS += openapi_replies.MODELS
PATHS.update(openapi_chat_app.paths(operation, json_body, error, AUTH, BAD_BODY))
MODELS += openapi_chat_app.MODELS
# Sent again with the same Idempotency-Key, a message is stored once (service/idempotency.py).
PATHS["/api/v1/chat/messages"]["post"].setdefault("parameters", []).append(openapi_chat_app.IDEMPOTENCY_KEY)
PATHS["/api/v1/chat/messages"]["post"]["responses"]["409"]["description"] += "; or its Idempotency-Key is in use"
PATHS["/api/v1/chat/messages"]["post"]["responses"]["503"]["description"] += "; or Redis, which keeps the keys, is away"


def build_openapi() -> dict[str, Any]:
    components: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": "coach-backbone", "version": "0.1.0"},
        "paths": PATHS,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


OPENAPI = build_openapi()


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(OPENAPI)
