"""OpenAPI paths of the chat page, its cookie sign-in and sign-out, the account endpoints and
forgetting memory (merged into service/openapi.py's document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service.openapi_operations import html
from shared.store.account import AccountDeleted, AccountExport

MODELS: list[type[BaseModel]] = [AccountExport, AccountDeleted]


def paths(
    operation: Any,
    json_body: Any,
    error: Any,
    auth: dict[str, Any],
    bad_body: dict[str, Any],
    throttled: dict[str, Any],
    models: Any,
) -> dict[str, Any]:
    cross_site = {"403": error("signed in by cookie, and the Origin (or Referer) header does not name this site")}
    by_cookie = {**auth, **cross_site}
    context_id = {"name": "context_id", "in": "path", "required": True, "schema": {"type": "string"}}
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    forgotten = {"204": {"description": "forgotten; the recall cache is dropped and rebuilt"}}
    return {
        "/": {
            "get": operation("the chat page (HTML; its scripts call this API with the session cookie)", {"200": html("the page")})
        },
        "/app/login": {
            "post": operation(
                "the chat page's sign-in: sets the HttpOnly session cookie (no token in the body)",
                {
                    "200": {"description": "signed in", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "401": error("wrong email or password"),
                    **cross_site,
                    "429": throttled,
                    **bad_body,
                },
                body=models.Credentials,
            )
        },
        "/app/logout": {
            "post": operation(
                "the chat page's sign-out: revokes the session, closes its sockets, queues its extraction, clears the cookie",
                {"200": json_body(models.LoggedOut, "signed out"), **by_cookie},
            )
        },
        "/api/v1/account/export": {
            "get": operation(
                "all of the caller's stored data, by collection (a download)",
                {"200": json_body(AccountExport, "everything"), **by_cookie},
                secured=True,
            )
        },
        "/api/v1/account": {
            "delete": operation(
                "delete the caller's account and all its data; every session's token dies at once, queued jobs are cancelled",
                {"200": json_body(AccountDeleted, "deleted"), **by_cookie},
                secured=True,
            )
        },
        "/api/v1/memory/contexts/{context_id}": {
            "delete": operation(
                "forget a whole session's memory (and the entities only it named)",
                {**forgotten, "404": error("no such session memory of the caller's"), **by_cookie},
                secured=True,
                parameters=[context_id],
            )
        },
        "/api/v1/memory/contexts/{context_id}/points/{key}": {
            "delete": operation(
                "forget one stored point (its `key` from GET /api/v1/memory)",
                {**forgotten, "404": error("no such point of the caller's"), **by_cookie},
                secured=True,
                parameters=[context_id, key],
            )
        },
    }
