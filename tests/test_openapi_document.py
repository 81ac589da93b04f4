"""The OpenAPI document is built from the routes' own declarations (service/api_docs.py): a
route served without one, or a model name used twice, fails the build instead of drifting."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from service.api_docs import documented, error, ok
from service.openapi import build_openapi


class Thing(BaseModel):
    name: str


class ThingQuery(BaseModel):
    limit: int = 10
    after: str | None = None


async def undocumented(request: Request) -> JSONResponse:
    return JSONResponse({})


@documented("GET", "a thing", {200: ok(Thing, "the thing"), 404: error("no such thing")}, query=ThingQuery)
async def thing(request: Request) -> JSONResponse:
    return JSONResponse({})


def test_a_route_served_without_a_declaration_fails_the_build():
    with pytest.raises(RuntimeError, match="/plain: serves"):
        build_openapi([Route("/plain", undocumented)])


def test_a_method_served_but_not_declared_fails_the_build():
    with pytest.raises(RuntimeError, match=r"serves \['get', 'post'\] but documents \['get'\]"):
        build_openapi([Route("/things/{thing_id}", thing, methods=["GET", "POST"])])


def test_two_models_of_one_name_fail_the_build():
    class Other(BaseModel):
        other: int

    Other.__name__ = "Thing"

    @documented("GET", "another", {200: ok(Other, "clash")})
    async def another(request: Request) -> JSONResponse:
        return JSONResponse({})

    with pytest.raises(RuntimeError, match="two models are named Thing"):
        build_openapi([Route("/a", thing), Route("/b", another)])


def test_an_operation_is_made_of_its_models_and_its_access():
    document = build_openapi([Route("/things/{thing_id}", thing)])
    operation = document["paths"]["/things/{thing_id}"]["get"]
    assert set(operation["responses"]) == {"200", "401", "404", "422"}  # 401: a user route; 422: it has a query
    assert operation["security"] == [{"bearer": []}]
    parameters = {(p["in"], p["name"]): p for p in operation["parameters"]}
    assert parameters["path", "thing_id"]["required"] is True
    assert parameters["query", "limit"]["schema"] == {"type": "integer", "default": 10}
    assert parameters["query", "after"]["schema"] == {"type": "string"}  # no null in a query string
    assert document["components"]["schemas"]["Thing"]["required"] == ["name"]
