"""The OpenAPI operations of the user's memory control (service/routes/memories.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service.routes.memories import MemoryChange, MemoryCreated, MemoryHistory, MemoryPage, NewMemory
from shared.store.memories import MemoryView

MODELS: list[type[BaseModel]] = [NewMemory, MemoryChange, MemoryCreated, MemoryPage, MemoryHistory, MemoryView]
MEMORY_ID = [{"name": "memory_id", "in": "path", "required": True, "schema": {"type": "string"}}]
LIST_PARAMETERS = [
    {
        "name": "status",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["active", "superseded", "retracted"]},
    },
    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"}},
]


def paths(operation: Any, json_body: Any, error: Any, auth: dict[str, Any], bad_body: dict[str, Any]) -> dict[str, Any]:
    missing = {"404": error("no such memory of yours")}
    return {
        "/api/v1/memory/points": {
            "get": operation(
                "the caller's memories by status, newest first, a page at a time",
                {"200": json_body(MemoryPage, "a page"), "422": error("bad status, limit or cursor"), **auth},
                secured=True,
                parameters=LIST_PARAMETERS,
            ),
            "post": operation(
                "remember something the user states",
                {
                    "201": json_body(MemoryCreated, "remembered"),
                    "422": error("bad kind, content or importance"),
                    **bad_body,
                    **auth,
                },
                body=NewMemory,
                secured=True,
            ),
        },
        "/api/v1/memory/points/{memory_id}": {
            "patch": operation(
                "correct a memory: a new version, with the old one kept in its history",
                {
                    "200": json_body(MemoryView, "the memory as it is now"),
                    "409": error("the memory is superseded or retracted"),
                    "422": error("nothing to change, or a bad field"),
                    **missing,
                    **bad_body,
                    **auth,
                },
                body=MemoryChange,
                secured=True,
                parameters=MEMORY_ID,
            ),
            "delete": operation(
                "retract a memory: never in a prompt or a search again; its history stays",
                {"204": {"description": "retracted"}, **missing, **auth},
                secured=True,
                parameters=MEMORY_ID,
            ),
        },
        "/api/v1/memory/points/{memory_id}/history": {
            "get": operation(
                "every version of a memory, oldest first",
                {"200": json_body(MemoryHistory, "its history"), **missing, **auth},
                secured=True,
                parameters=MEMORY_ID,
            )
        },
    }
