"""The OpenAPI 3.1 document, served at /openapi.json, built from the app's own routes.

Each handler declares its operations beside itself (service/api_docs.py); this module walks
the routes the app serves, so a route cannot be served undocumented (building fails) and a
body or query model in the document is the one its handler validates with. The WebSocket is
described in docs/api.md; OpenAPI has no words for it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from service.api_docs import Answer, Operation, error, operations_of

UNDOCUMENTED = {"/openapi.json"}  # the document itself
BAD_BODY = {
    400: error("body is not JSON, or refused JSON (nested too deep, a huge number, invalid Unicode)"),
    408: error("body not received within HTTP_BODY_TIMEOUT_SECONDS"),
    413: error("body over the size limit"),
    422: error("a field is invalid"),
}
BAD_QUERY = {422: error("a query parameter is invalid")}
NO_TOKEN = {401: error("missing, invalid, expired or revoked token")}
NOT_ADMIN = {403: error("not an admin")}
PATH_PARAMETER = re.compile(r"{(\w+)(?::(\w+))?}")


class Components:
    """The schemas the operations refer to, each model once under its own name."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self.models: dict[str, type[BaseModel]] = {}

    def ref(self, model: type[BaseModel]) -> dict[str, str]:
        if self.models.setdefault(model.__name__, model) is not model:
            raise RuntimeError(f"two models are named {model.__name__}: {self.models[model.__name__]} and {model}")
        if model.__name__ not in self.schemas:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            self.schemas.update(schema.pop("$defs", {}))
            self.schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def query_parameters(self, model: type[BaseModel]) -> list[dict[str, Any]]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        self.schemas.update(schema.pop("$defs", {}))
        required = set(schema.get("required", []))
        parameters = []
        for name, prop in schema["properties"].items():
            prop = without_null({k: v for k, v in prop.items() if k not in ("title", "description")})
            parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if description := schema["properties"][name].get("description"):
                parameter["description"] = description
            parameters.append(parameter)
        return parameters


def without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query string has no null: an optional field (`str | None = None`) is a parameter left out."""
    if prop.get("default", ...) is None:
        del prop["default"]
    choices = [choice for choice in prop.pop("anyOf", []) if choice != {"type": "null"}]
    if len(choices) == 1:
        return {**choices[0], **prop}
    return {**prop, "anyOf": choices} if choices else prop


def response(answer: Answer, components: Components) -> dict[str, Any]:
    documented: dict[str, Any] = {"description": answer.description}
    if answer.model is not None:
        documented["content"] = {"application/json": {"schema": components.ref(answer.model)}}
    elif answer.media is not None:
        documented["content"] = {answer.media: {"schema": {"type": "string"}}}
    if answer.retry_after:
        documented["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
    return documented


def path_parameters(path: str, operation: Operation) -> list[dict[str, Any]]:
    parameters = []
    for name, convertor in PATH_PARAMETER.findall(path):
        schema = {"type": "integer"} if convertor == "int" else {"type": "string"}
        parameter: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
        if name in operation.path_descriptions:
            parameter["description"] = operation.path_descriptions[name]
        parameters.append(parameter)
    return parameters


def operation_document(path: str, operation: Operation, components: Components) -> dict[str, Any]:
    answers: dict[int, Answer] = {}
    if operation.body is not None:
        answers.update(BAD_BODY)
    if operation.query is not None:
        answers.update(BAD_QUERY)
    if operation.access != "public":
        answers.update(NO_TOKEN)
    if operation.access == "admin":
        answers.update(NOT_ADMIN)
    answers.update(operation.responses)  # what the route says itself wins
    document: dict[str, Any] = {
        "summary": operation.summary,
        "responses": {str(status): response(answers[status], components) for status in sorted(answers)},
    }
    parameters = path_parameters(path, operation)
    if operation.query is not None:
        parameters += components.query_parameters(operation.query)
    for header in operation.headers:
        schema: dict[str, Any] = {"type": "string"}
        if header.pattern:
            schema["pattern"] = header.pattern
        parameters.append(
            {"name": header.name, "in": "header", "required": False, "description": header.description, "schema": schema}
        )
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        document["requestBody"] = {"required": True, "content": {"application/json": {"schema": components.ref(operation.body)}}}
    elif operation.form is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": components.ref(operation.form)}},
        }
    if operation.access != "public":
        document["security"] = [{"bearer": []}]
    return document


def build_openapi(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    components = Components()
    paths: dict[str, Any] = {}
    for route in routes:
        if not isinstance(route, Route) or route.path in UNDOCUMENTED:
            continue
        declared = operations_of(route.endpoint)
        served = {m.lower() for m in route.methods or ()} - {"head"}
        if set(declared) != served:
            raise RuntimeError(
                f"{route.path}: serves {sorted(served)} but documents {sorted(declared)}; declare each with @documented"
            )
        paths.setdefault(route.path, {}).update(
            {method: operation_document(route.path, declared[method], components) for method in sorted(declared)}
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "coach-backbone", "version": "0.1.0"},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def serve_document(document: dict[str, Any]) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The /openapi.json endpoint: the document built once, when the app is made."""

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(document)

    return openapi_json
