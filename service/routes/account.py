"""The caller's account (download everything, delete everything) and forgetting memory on request."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service.api_docs import CROSS_SITE, documented, empty, error, ok
from service.browser_session import clear_session_cookie
from service.errors import ApiError
from service.principal import require_principal
from service.resources import resources_of
from service.socket_registry import publish_logout
from shared.memory.forget import forget_point, forget_session
from shared.redis_structures.unavailable import REDIS_DOWN
from shared.store.account import AccountDeleted, AccountExport, delete_account, export_account

log = logging.getLogger(__name__)


@documented(
    "GET", "all of the caller's stored data, by collection (a download)", {200: ok(AccountExport, "everything"), 403: CROSS_SITE}
)
async def export(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    exported = await export_account(resources_of(request).db, principal.user_id)
    if exported is None:
        raise ApiError(404, "no such account")
    headers = {"Content-Disposition": 'attachment; filename="coach-account.json"', "Cache-Control": "no-store"}
    return JSONResponse(exported.model_dump(mode="json"), headers=headers)


@documented(
    "DELETE",
    "delete the caller's account and all its data; every session's token dies at once, queued jobs are cancelled",
    {200: ok(AccountDeleted, "deleted"), 403: CROSS_SITE},
)
async def delete(request: Request) -> JSONResponse:
    principal = await require_principal(request)
    state = resources_of(request)
    outcome = await delete_account(state.db, state.arq, state.settings, principal.user_id)
    if outcome is None:
        raise ApiError(404, "no such account")
    deleted, open_sessions, reply_ids = outcome
    try:  # the replies' text in Redis goes with them (it expires anyway; now is sooner)
        await state.reply_streams.delete(*reply_ids)
        await state.user_events.delete(principal.user_id)
    except REDIS_DOWN as exc:
        log.warning("account %s deleted; its reply streams expire by themselves (Redis: %s)", principal.user_id, exc)
    for session_id in open_sessions:  # open chat sockets, on any service process, close now
        await publish_logout(state.arq, session_id)
    response = JSONResponse(deleted.model_dump(mode="json"))
    clear_session_cookie(response)
    return response


@documented(
    "DELETE",
    "forget one stored point (its `key` from GET /api/v1/memory)",
    {
        204: empty("forgotten; the recall cache is dropped and rebuilt"),
        403: CROSS_SITE,
        404: error("no such point of the caller's"),
    },
)
async def delete_point(request: Request) -> Response:
    principal = await require_principal(request)
    state = resources_of(request)
    found = await forget_point(
        state.db,
        state.arq,
        state.settings.redis_timeout_seconds,
        principal.user_id,
        request.path_params["context_id"],
        request.path_params["key"],
    )
    if not found:
        raise ApiError(404, "no such point")
    return Response(status_code=204)


@documented(
    "DELETE",
    "forget a whole session's memory (and the entities only it named)",
    {
        204: empty("forgotten; the recall cache is dropped and rebuilt"),
        403: CROSS_SITE,
        404: error("no such session memory of the caller's"),
    },
)
async def delete_context(request: Request) -> Response:
    principal = await require_principal(request)
    state = resources_of(request)
    found = await forget_session(
        state.db, state.arq, state.settings.redis_timeout_seconds, principal.user_id, request.path_params["context_id"]
    )
    if not found:
        raise ApiError(404, "no such session memory")
    return Response(status_code=204)
